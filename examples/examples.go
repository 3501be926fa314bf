// Package examples ships the demo directory, so that `api -demo` works from any directory.
package examples

import _ "embed"

// DemoDirectory is examples/demo-directory.json: the directory bootstrap file of the demo.
//
//go:embed demo-directory.json
var DemoDirectory []byte
