// Package httpapi serves casestream's two HTTP surfaces: the operator API (compatible with
// the Thalamus REST API v4, under /api/v4) and the agent-impersonation API (compatible with
// the Cubu server-to-server API, under /{applicationId}), plus /healthz, /readyz and /metrics.
//
// Handlers are methods on Server that return an error; one adapter per surface turns the
// error into that surface's error body through a single table (errors.go), counts it, and
// logs it when it is a 5xx. Bodies are encoded into a buffer before the status is written,
// so a failed encode never leaves a half-written 200.
package httpapi
