"""``tfs k8s``: Kubernetes (Deployment + Service + ConfigMap) and KServe (InferenceService) manifests rendered from
the same deployment spec and container flags as compose.yaml and ``tfs up``, checked against the rules an API
server enforces before they are written."""
