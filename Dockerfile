# keyway: a static binary on a distroless base, running as non-root with its
# data on the /data volume (storage.path "./data/keyway.db" resolves there).
#
# Out of the box the image runs the starter pack in dev mode (no Twilio
# credentials: messages are logged, not sent):
#   docker run -p 8080:8080 keyway
# In production, mount your config over /etc/keyway/keyway.yaml and a volume
# on /data (README "Docker"). The image runs as uid 65532 ("nonroot"): a
# bind-mounted host folder on /data must be writable by that uid
# (chown 65532:65532 DIR); a named volume is set up right by itself.
#
# Image names are written in full, so that a builder with another default
# registry (podman, buildah) pulls the same images.
FROM docker.io/library/golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
    -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
    -o /out/keyway ./cmd/keyway \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/keyway /usr/local/bin/keyway
COPY --from=build --chown=nonroot:nonroot /out/data /data
COPY config/examples /etc/keyway/examples
COPY config/examples/starter.yaml /etc/keyway/keyway.yaml
WORKDIR /
USER nonroot:nonroot
VOLUME ["/data"]
EXPOSE 8080
ENV KEYWAY_CONFIG=/etc/keyway/keyway.yaml
# The image has no shell and no curl: "keyway health" GETs /readyz on the
# config's server.listen and exits 0 when keyway is ready, 1 when not.
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/keyway", "health", "--timeout", "5s"]
ENTRYPOINT ["/usr/local/bin/keyway"]
CMD ["serve"]
