// Command keyway is the keyword chatbot gateway: serve, validate, simulate
// and version. main only hands off to the command line.
package main

import (
	"os"
	_ "time/tzdata" // time zones for waits and schedules, even where the OS has none
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
