# Stand-in for the official nginx image, for machines that reach Debian's package servers but no
# container registry (build: scripts/compose_lb_image.sh). Debian bookworm's own nginx package; any
# bookworm-based image will do as the base, and python:3.12-slim is already there for the service.
FROM python:3.12-slim
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends nginx-light \
 && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/default \
 && ln -sf /dev/stdout /var/log/nginx/access.log \
 && ln -sf /dev/stderr /var/log/nginx/error.log
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
