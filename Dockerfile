# One image for both programs: docker run casestream api ..., docker run casestream projector ...
# The directory file and the NATS credentials are mounted at run time (docker-compose.yml).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -o /out/api ./cmd/api && CGO_ENABLED=0 go build -o /out/projector ./cmd/projector

FROM gcr.io/distroless/static-debian12
COPY --from=build /out/api /out/projector /usr/local/bin/
USER nonroot
ENTRYPOINT []
