// Package hangup catches SIGHUP from the first moments of keyway's process,
// before main runs. Go ends a process on a SIGHUP that nothing asked to be
// told of, and the packages keyway imports take tens of milliseconds to
// initialise (more on a busy machine): a reload asked for by a service
// manager or a deploy script that has just started keyway would end it.
// The package imports nothing but the signal packages, so that Go
// initialises it among the first, right after os/signal.
package hangup

import (
	"os"
	"os/signal"
	"syscall"
)

// C receives the SIGHUPs that came since the process started: one is held
// until serve reads it (two before then are one reload).
var C = make(chan os.Signal, 1)

func init() { signal.Notify(C, syscall.SIGHUP) }

// Release gives SIGHUP back its default action, which ends the process,
// for the commands that do not reload.
func Release() { signal.Stop(C) }
