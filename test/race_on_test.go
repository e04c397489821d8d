//go:build race

package test

// raceEnabled builds the keyway binary with -race when the tests run with it.
const raceEnabled = true
