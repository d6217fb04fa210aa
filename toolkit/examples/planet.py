"""The two-headed "planet" image model of the tf.keras training-and-serving tutorial, with random weights.

Input ``input_image`` (128x128x3 float32); outputs ``weather`` (softmax over 4 classes) and ``ground``
(sigmoid over 13 tags). Seeds are fixed, so every build gives the same weights and the same predictions: no data
set and no training are needed to exercise export, serving and smoke tests end to end.
"""

from __future__ import annotations

from typing import Any

import numpy as np

IMAGE_SHAPE = (128, 128, 3)
WEATHER_CLASSES = 4
GROUND_TAGS = 13
SEED = 1234


def build_planet_model(seed: int = SEED) -> Any:
    """A small Keras functional model with the tutorial's input and output names."""
    import keras

    keras.utils.set_random_seed(seed)
    image = keras.Input(shape=IMAGE_SHAPE, name="input_image")
    x = keras.layers.Conv2D(16, 3, strides=2, activation="relu", name="conv1")(image)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.Conv2D(32, 3, strides=2, activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool2")(x)
    x = keras.layers.Dense(64, activation="relu", name="features")(x)
    weather = keras.layers.Dense(WEATHER_CLASSES, activation="softmax", name="weather")(x)
    ground = keras.layers.Dense(GROUND_TAGS, activation="sigmoid", name="ground")(x)
    return keras.Model(inputs=image, outputs=[weather, ground], name="planet")


def sample_images(count: int = 4, seed: int = SEED) -> np.ndarray:
    """Deterministic sample images in [0, 1): the validation and smoke-test inputs."""
    rng = np.random.default_rng(seed)
    return rng.random((count, *IMAGE_SHAPE), dtype=np.float32)
