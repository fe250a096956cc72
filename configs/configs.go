// Package configs embeds the shipped configuration files: demo.yaml, which `totemd run --demo`
// uses, and totemd.example.yaml, which documents every option (tests check both stay valid).
package configs

import _ "embed"

// Demo is configs/demo.yaml.
//
//go:embed demo.yaml
var Demo []byte

// Example is configs/totemd.example.yaml.
//
//go:embed totemd.example.yaml
var Example []byte
