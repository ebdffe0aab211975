# Build a static binary, then ship it alone in a distroless, non-root image.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/herald .

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/herald /herald
USER 65532:65532
ENTRYPOINT ["/herald"]
