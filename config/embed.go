// Package config carries Herald's generated CustomResourceDefinitions inside
// the binary, so the embedded development cluster can install them.
package config

import "embed"

// CRDs holds crd/bases/*.yaml.
//
//go:embed crd/bases/*.yaml
var CRDs embed.FS
