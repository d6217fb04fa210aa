#!/bin/bash
# Same script as the official image writes in its Dockerfile: fixed flags first, the container's command ("$@")
# after them, so a later flag (e.g. --model_config_file=...) wins.
tensorflow_model_server --port=8500 --rest_api_port=8501 \
  --model_name=${MODEL_NAME} --model_base_path=${MODEL_BASE_PATH}/${MODEL_NAME} "$@"
