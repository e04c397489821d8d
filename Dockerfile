# keyway: a static binary on a distroless base, running as non-root with its
# data on the /data volume (storage.path "./data/keyway.db" resolves there).
#
# Out of the box the image runs the starter pack in dev mode (no Twilio
# credentials: messages are logged, not sent):
#   docker run -p 8080:8080 keyway
# In production, mount your config over /etc/keyway/keyway.yaml and a volume
# on /data (README "Docker").
FROM golang:1.26 AS build
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
ENTRYPOINT ["/usr/local/bin/keyway"]
CMD ["serve"]
