// Package metricstest reads a program's /metrics for tests: parsed into families, summed
// per family to see whether a run moved it, and linted with promlint.
package metricstest

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Scrape reads base/metrics and returns its families by name and the raw text.
func Scrape(tb testing.TB, base string) (map[string]*dto.MetricFamily, []byte) {
	tb.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		tb.Fatalf("metrics: got %d %v, want 200", resp.StatusCode, err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		tb.Fatalf("parse metrics: %v", err)
	}
	return mfs, b
}

// Value sums a family's samples: counter and gauge values, histogram sample counts; 0 for
// a family that is absent.
func Value(mf *dto.MetricFamily) float64 {
	var v float64
	for _, m := range mf.GetMetric() {
		switch {
		case m.Counter != nil:
			v += m.Counter.GetValue()
		case m.Gauge != nil:
			v += m.Gauge.GetValue()
		case m.Histogram != nil:
			v += float64(m.Histogram.GetSampleCount())
		}
	}
	return v
}

// Lint fails the test for every problem promlint finds in a scrape.
func Lint(tb testing.TB, body []byte) {
	tb.Helper()
	problems, err := promlint.New(bytes.NewReader(body)).Lint()
	if err != nil {
		tb.Fatalf("promlint: %v", err)
	}
	for _, p := range problems {
		tb.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}
