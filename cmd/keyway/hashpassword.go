package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/term"
)

const hashPasswordHelp = `Usage: keyway hash-password

Reads a password and prints its bcrypt hash, for a user's password_hash in
admin.users. On a terminal it asks twice, without echo; from a pipe it reads
one line. The password itself is never printed nor stored.
`

// hashPassword is "keyway hash-password".
func hashPassword(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newCommandFlags("hash-password", hashPasswordHelp)
	if code, done := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	if fs.NArg() > 0 {
		return extraArgs(fs, fs.Args(), stderr)
	}
	var pw []byte
	var err error
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		pw, err = askTwice(int(f.Fd()), stderr)
	} else {
		pw, err = readLine(stdin)
	}
	if err == nil {
		err = checkPassword(pw)
	}
	if err != nil {
		fmt.Fprintf(stderr, "keyway hash-password: %v\n", err)
		return 1
	}
	hash, err := bcrypt.GenerateFromPassword(pw, bcrypt.DefaultCost)
	if err != nil {
		fmt.Fprintf(stderr, "keyway hash-password: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, string(hash))
	return 0
}

// maxPassword is the longest password bcrypt takes whole.
const maxPassword = 72

func checkPassword(pw []byte) error {
	switch {
	case len(pw) == 0:
		return errors.New("the password is empty")
	case len(pw) > maxPassword:
		return fmt.Errorf("the password is %d bytes long; bcrypt takes at most %d", len(pw), maxPassword)
	}
	return nil
}

// readLine reads the first line of r, without its line ending.
func readLine(r io.Reader) ([]byte, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read the password: %w", err)
	}
	return []byte(strings.TrimRight(line, "\r\n")), nil
}

// askTwice asks for the password on the terminal fd, without echo, twice.
func askTwice(fd int, prompts io.Writer) ([]byte, error) {
	fmt.Fprint(prompts, "Password: ")
	pw, err := term.ReadPassword(fd)
	fmt.Fprintln(prompts)
	if err != nil {
		return nil, fmt.Errorf("read the password: %w", err)
	}
	fmt.Fprint(prompts, "Again: ")
	again, err := term.ReadPassword(fd)
	fmt.Fprintln(prompts)
	if err != nil {
		return nil, fmt.Errorf("read the password: %w", err)
	}
	if string(pw) != string(again) {
		return nil, errors.New("the two passwords differ")
	}
	return pw, nil
}
