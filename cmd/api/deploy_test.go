package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.yaml.in/yaml/v3"

	"github.com/casestream/casestream/internal/eventually"
	"github.com/casestream/casestream/internal/metricstest"
)

// composeService is what the deployment tests read of a docker-compose.yml service.
type composeService struct {
	Image       string            `yaml:"image"`
	Build       any               `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	DependsOn   []string          `yaml:"depends_on"`
	Ports       []string          `yaml:"ports"`
}

// readYAML decodes a YAML file of the repository, named from its root, into v.
func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../..", path))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// readCompose parses the repository's docker-compose.yml (anchors and merge keys resolved).
func readCompose(t *testing.T) map[string]composeService {
	t.Helper()
	var f struct {
		Services map[string]composeService `yaml:"services"`
	}
	readYAML(t, "docker-compose.yml", &f)
	if len(f.Services) == 0 {
		t.Fatal("docker-compose.yml: no services")
	}
	return f.Services
}

// servicePort returns the port a casestream program or an exporter of the compose file
// listens on, read from its configuration.
func servicePort(t *testing.T, name string, s composeService) string {
	t.Helper()
	if len(s.Command) > 0 {
		switch s.Command[0] {
		case "api":
			return portOf(t, name, s.Environment["CASESTREAM_ADDR"])
		case "projector":
			return portOf(t, name, s.Environment["CASESTREAM_PROJECTOR_ADDR"])
		}
	}
	for _, a := range s.Command {
		if p, ok := strings.CutPrefix(a, "-port="); ok {
			return p
		}
	}
	t.Fatalf("service %s: no port known", name)
	return ""
}

func portOf(t *testing.T, name, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("service %s: address %q: %v", name, addr, err)
	}
	return port
}

// TestCompose checks what can be checked of docker-compose.yml without docker: every service
// has an image or a build and depends on services that exist, every file it mounts exists,
// the load balancer's upstreams are exactly the api services on their port, and every
// Prometheus target and exporter URL names a service and the port it listens on.
func TestCompose(t *testing.T) {
	t.Parallel()
	services := readCompose(t)
	var apis, projectors []string
	for name, s := range services {
		if s.Image == "" && s.Build == nil {
			t.Errorf("service %s: neither image nor build", name)
		}
		for _, d := range s.DependsOn {
			if _, ok := services[d]; !ok {
				t.Errorf("service %s depends on %s, which is not a service", name, d)
			}
		}
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, "./") {
				if _, err := os.Stat(filepath.Join("../..", src)); err != nil {
					t.Errorf("service %s mounts %s: %v", name, src, err)
				}
			}
		}
		if len(s.Command) > 0 && s.Command[0] == "api" {
			apis = append(apis, name)
			if !slices.Contains(s.Command, "-projector=false") {
				t.Errorf("api service %s runs a projector of its own", name)
			}
			if len(s.Ports) > 0 {
				t.Errorf("api service %s publishes ports %v: only the load balancer should", name, s.Ports)
			}
		}
		if len(s.Command) > 0 && s.Command[0] == "projector" {
			projectors = append(projectors, name)
		}
	}
	slices.Sort(apis)
	slices.Sort(projectors)
	if len(apis) < 2 || len(projectors) < 2 {
		t.Fatalf("got api services %v and projectors %v, want two of each", apis, projectors)
	}

	t.Run("load balancer", func(t *testing.T) {
		lb, ok := services["lb"]
		if !ok || !strings.HasPrefix(lb.Image, "caddy:") {
			t.Fatalf("no Caddy service named lb")
		}
		b, err := os.ReadFile("../../deploy/Caddyfile")
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`(?m)^\s*reverse_proxy\s+([^{\n]+)`).FindSubmatch(b)
		if m == nil {
			t.Fatal("Caddyfile: no reverse_proxy")
		}
		upstreams := strings.Fields(string(m[1]))
		var want []string
		for _, a := range apis {
			want = append(want, a+":"+servicePort(t, a, services[a]))
		}
		slices.Sort(upstreams)
		if !slices.Equal(upstreams, want) {
			t.Errorf("upstreams: got %v, want %v", upstreams, want)
		}
		if !strings.Contains(string(b), "health_uri /readyz") {
			t.Error("Caddyfile: upstreams are not health-checked on /readyz")
		}
		if len(lb.Ports) != 1 {
			t.Errorf("lb ports: got %v, want one", lb.Ports)
		}
	})

	t.Run("prometheus targets", func(t *testing.T) {
		var cfg struct {
			ScrapeConfigs []struct {
				JobName       string `yaml:"job_name"`
				StaticConfigs []struct {
					Targets []string `yaml:"targets"`
				} `yaml:"static_configs"`
			} `yaml:"scrape_configs"`
		}
		readYAML(t, "deploy/prometheus.yml", &cfg)
		scraped := map[string]bool{}
		for _, sc := range cfg.ScrapeConfigs {
			for _, st := range sc.StaticConfigs {
				for _, target := range st.Targets {
					host, port, err := net.SplitHostPort(target)
					if err != nil {
						t.Errorf("job %s: target %q: %v", sc.JobName, target, err)
						continue
					}
					s, ok := services[host]
					if !ok {
						t.Errorf("job %s: target %s is not a service", sc.JobName, target)
						continue
					}
					if got := servicePort(t, host, s); got != port {
						t.Errorf("job %s: target %s, but %s listens on %s", sc.JobName, target, host, got)
					}
					scraped[host] = true
				}
			}
		}
		for name, s := range services {
			isExporter := strings.Contains(s.Image, "prometheus-nats-exporter")
			if (slices.Contains(apis, name) || slices.Contains(projectors, name) || isExporter) && !scraped[name] {
				t.Errorf("service %s is not scraped", name)
			}
			if isExporter {
				checkExporter(t, name, s, services)
			}
		}
	})

	t.Run("grafana", func(t *testing.T) {
		var ds struct {
			Datasources []struct {
				UID string `yaml:"uid"`
				URL string `yaml:"url"`
			} `yaml:"datasources"`
		}
		readYAML(t, "deploy/grafana/provisioning/datasources/prometheus.yml", &ds)
		if len(ds.Datasources) != 1 || ds.Datasources[0].URL != "http://prometheus:9090" || ds.Datasources[0].UID != "prometheus" {
			t.Errorf("data sources: got %+v, want the prometheus service", ds.Datasources)
		}
		if _, ok := services["prometheus"]; !ok {
			t.Error("no prometheus service")
		}
	})
}

// checkExporter checks that a prometheus-nats-exporter reads a NATS service's monitoring port.
func checkExporter(t *testing.T, name string, s composeService, services map[string]composeService) {
	t.Helper()
	url := s.Command[len(s.Command)-1]
	host, port, err := net.SplitHostPort(strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Errorf("exporter %s: url %q: %v", name, url, err)
		return
	}
	nats, ok := services[host]
	if !ok {
		t.Errorf("exporter %s reads %s, which is not a service", name, host)
		return
	}
	if i := slices.Index(nats.Command, "-m"); i < 0 || i+1 >= len(nats.Command) || nats.Command[i+1] != port {
		t.Errorf("exporter %s reads port %s of %s, whose command is %v", name, port, host, nats.Command)
	}
}

// promQLWords are the words of a PromQL expression that are neither functions (followed by
// a parenthesis) nor metric names.
var promQLWords = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true,
	"group_right": true, "bool": true, "and": true, "or": true, "unless": true, "offset": true}

// metricNames returns the metric names an expression selects: what is left of it without
// strings, label matchers, ranges, grouping clauses, functions, keywords and numbers.
func metricNames(expr string) []string {
	for _, re := range []string{`"[^"]*"`, `\{[^}]*\}`, `\[[^\]]*\]`, `\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`} {
		expr = regexp.MustCompile(re).ReplaceAllString(expr, " ")
	}
	var out []string
	for _, m := range regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*(\s*\()?`).FindAllString(expr, -1) {
		if strings.HasSuffix(m, "(") || promQLWords[m] {
			continue
		}
		out = append(out, m)
	}
	return out
}

// TestDashboard loads the Grafana dashboard and checks that every query selects only
// metrics a running api exports (histogram series by their family).
func TestDashboard(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../deploy/grafana/dashboards/casestream.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr       string `json:"expr"`
				Datasource struct {
					UID string `json:"uid"`
				} `json:"datasource"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	// A short run gives the families labelled by route or error code their first series.
	m, c := startClient(t)
	id := c.openCase("ACCOUNTS", "OPEN_ACCOUNT")
	c.do(asOperator(alice, alicePW, "PUT", fmt.Sprintf("/cases/%d/assignment", id), `{"email":"nobody@example.com"}`))
	tok := c.agentToken("demo-app", "demo-app-secret")
	c.expect(200, bearer(tok, "POST", agentPath(aliceID, "/units/_current"), `{"unitId":"`+downtown+`"}`))
	var families map[string]*dto.MetricFamily
	eventually.Check(t, 10*time.Second, 20*time.Millisecond, func() error {
		families, _ = metricstest.Scrape(t, "http://"+m.Addr())
		if _, ok := families["casestream_projection_agents_with_unit"]; !ok {
			return fmt.Errorf("the projection has not applied the unit selection")
		}
		return nil
	})
	exported := func(name string) bool {
		if _, ok := families[name]; ok {
			return true
		}
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suffix); ok {
				if _, ok := families[base]; ok {
					return true
				}
			}
		}
		return false
	}
	queries := 0
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, target := range p.Targets {
			queries++
			if target.Datasource.UID != "prometheus" {
				t.Errorf("panel %q: data source %q, want the provisioned prometheus", p.Title, target.Datasource.UID)
			}
			names := metricNames(target.Expr)
			if len(names) == 0 {
				t.Errorf("panel %q: query %q selects no metric", p.Title, target.Expr)
			}
			for _, n := range names {
				if !exported(n) {
					t.Errorf("panel %q: query %q names %s, which the api does not export", p.Title, target.Expr, n)
				}
			}
		}
	}
	if queries < 20 {
		t.Errorf("got %d queries, want the dashboard's (at least 20)", queries)
	}
}

func TestMetricNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr string
		want []string
	}{
		{`sum by (route, le) (rate(casestream_http_request_duration_seconds_bucket{code=~"4.."}[5m]))`, []string{"casestream_http_request_duration_seconds_bucket"}},
		{`sum(rate(a_total[$__rate_interval])) / sum(rate(b_count[1m])) * 60`, []string{"a_total", "b_count"}},
		{`max by (unit) (casestream_projection_open_cases{status="Active"})`, []string{"casestream_projection_open_cases"}},
		{`histogram_quantile(0.99, x_bucket) and on (job) y`, []string{"x_bucket", "y"}},
	}
	for _, tt := range tests {
		if got := metricNames(tt.expr); !slices.Equal(got, tt.want) {
			t.Errorf("metricNames(%q): got %v, want %v", tt.expr, got, tt.want)
		}
	}
}
