//go:build keywaytest

package main

// The end-to-end tests build keyway with -tags keywaytest to add a provider
// that exists only to prove the providers seam; the released binary never
// has it.
import (
	_ "github.com/keyway-sms/keyway/test/fakeprovider"
)
