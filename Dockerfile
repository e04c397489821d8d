# keyway: a static binary on a distroless base, running as non-root with its
# data on the /data volume (storage.path "./data/keyway.db" resolves there).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
    -o /out/keyway ./cmd/keyway \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/keyway /usr/local/bin/keyway
COPY --from=build --chown=nonroot:nonroot /out/data /data
COPY config/examples /etc/keyway/examples
WORKDIR /
USER nonroot:nonroot
VOLUME ["/data"]
EXPOSE 8080
ENV KEYWAY_CONFIG=/etc/keyway/keyway.yaml
ENTRYPOINT ["/usr/local/bin/keyway"]
CMD ["serve"]
