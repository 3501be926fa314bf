package natsauth_test

import (
	"fmt"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
)

// renderPermissions writes p as a nats-server configuration block assigned to name.
func renderPermissions(name string, p *server.Permissions) string {
	var b strings.Builder
	list := func(indent, key string, subjects []string) {
		if len(subjects) == 0 {
			return
		}
		fmt.Fprintf(&b, "%s%s: [\n", indent, key)
		for _, s := range subjects {
			fmt.Fprintf(&b, "%s  %q\n", indent, s)
		}
		fmt.Fprintf(&b, "%s]\n", indent)
	}
	fmt.Fprintf(&b, "%s = {\n", name)
	for _, sp := range []struct {
		key string
		p   *server.SubjectPermission
	}{{"publish", p.Publish}, {"subscribe", p.Subscribe}} {
		if sp.p == nil {
			continue
		}
		fmt.Fprintf(&b, "  %s: {\n", sp.key)
		list("    ", "allow", sp.p.Allow)
		list("    ", "deny", sp.p.Deny)
		b.WriteString("  }\n")
	}
	if p.Response != nil {
		fmt.Fprintf(&b, "  allow_responses: { max: %d, expires: %q }\n", p.Response.MaxMsgs, p.Response.Expires.String())
	}
	b.WriteString("}\n")
	return b.String()
}
