package directory

import "github.com/prometheus/client_golang/prometheus"

// CredentialCache counts the verifications of secrets (passwords, client secrets) by
// whether the cache of recent successes answered them (hit) or a bcrypt comparison had to
// run (miss). Package-level, so that every Directory of a process adds to it.
var CredentialCache = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "casestream_auth_credential_cache_total",
	Help: "Secret verifications, by result (hit: a recent success answered; miss: a bcrypt comparison was needed).",
}, []string{"result"})

// Both results start at zero, so that a rate or an alert sees the first verification.
func init() {
	CredentialCache.WithLabelValues("hit")
	CredentialCache.WithLabelValues("miss")
}

// AgentsByUnit returns how many operators have each unit as their current unit.
func (d *Directory) AgentsByUnit() map[string]int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := map[string]int{}
	for _, a := range d.agents {
		if a.unitID != "" {
			out[a.unitID]++
		}
	}
	return out
}

// Collectors returns d's metrics: the bcrypt comparisons it ran, with the package's
// CredentialCache. (Verifications the bcrypt bound refused are counted by the HTTP surfaces,
// casestream_auth_refusals_total.)
func (d *Directory) Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		CredentialCache,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "casestream_auth_bcrypt_comparisons_total",
			Help: "bcrypt comparisons run to verify secrets (a credential-cache miss with a stored hash).",
		}, func() float64 { return float64(d.CompareStats().Total) }),
	}
}
