package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/sim"
	"github.com/keyway-sms/keyway/config"
)

const simulateHelp = `Each line is a message from the contact. Commands:
  /wait DURATION    advance the clock (e.g. /wait 2h, /wait 3d) and fire what is due
  /from +NUMBER     write as another contact, on the same channel
                    (/from whatsapp:+NUMBER: on WhatsApp)
  /button ID        tap the button or list row with that id (or answer with its number or title)
  /contact          show the contact: groups, tags, fields, opt-out
  /help             this help
  /quit             leave (end of input does too)
`

const simulateUsage = `Usage: keyway simulate [--config] FILE [--from +NUMBER] [--channel sms|whatsapp]

A chat with the automations on an in-memory store and a fake clock that
starts on Monday 2026-01-05 at 09:00 in the config's time zone: each line read
from stdin is an inbound message; what the automations do is printed.
` + simulateHelp

func simulate(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newCommandFlags("simulate", simulateUsage)
	cf := configFlags(fs)
	from := fs.String("from", "+15550001111", "the contact's number")
	channel := fs.String("channel", config.ChannelSMS, "sms or whatsapp (whatsapp when every number of the config is a WhatsApp number)")
	if code, done := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	if code, ok := cf.configArg(fs, stderr); !ok {
		return code
	}
	if *channel != config.ChannelSMS && *channel != config.ChannelWhatsApp {
		fmt.Fprintf(stderr, "keyway simulate: --channel must be sms or whatsapp, not %q\n", *channel)
		return 2
	}
	cfg, set, problems := engine.Load(cf.config)
	if set == nil {
		printProblems(stderr, problems)
		return 1
	}
	number, named := splitWhatsApp(*from)
	if named != "" {
		if flagGiven(fs, "channel") && *channel != named {
			fmt.Fprintf(stderr, "keyway simulate: --from %s is a WhatsApp address, but --channel is %s\n", *from, *channel)
			return 2
		}
		*channel = named
	} else if !flagGiven(fs, "channel") {
		*channel = defaultSimChannel(cfg)
	}
	phone, err := config.E164(number, cfg.Defaults.Region)
	if err != nil {
		fmt.Fprintf(stderr, "keyway simulate: --from: %v\n", err)
		return 2
	}
	s := sim.NewSimulator(set, stdout)
	s.From, s.Channel = phone, *channel
	// Start on a Monday at 09:00 in the config's time zone.
	start := sim.SimStart
	s.Clock.Set(time.Date(start.Year(), start.Month(), start.Day(), 9, 0, 0, 0, cfg.Location()))
	fmt.Fprintf(stdout, "keyway simulate: %d automation(s); you are %s on %s. /help for commands.\n", len(set.Automations()), phone, *channel)
	ctx := context.Background()
	sc := bufio.NewScanner(stdin)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		fmt.Fprintf(stdout, "%s %s> %s\n", s.Clock.Now().In(cfg.Location()).Format("Mon 15:04"), s.From, line)
		quit, err := simCommand(ctx, s, cfg, line, stdout)
		if err != nil {
			fmt.Fprintf(stdout, "  error: %v\n", err)
		}
		if quit {
			break
		}
	}
	return 0
}

// defaultSimChannel is the channel simulate chats on when none is named:
// SMS, unless the config's numbers are all WhatsApp numbers (a WhatsApp
// Cloud API setup), where no SMS could arrive.
func defaultSimChannel(cfg *config.Config) string {
	numbers := cfg.Numbers()
	for _, n := range numbers {
		if n.Channel != config.ChannelWhatsApp {
			return config.ChannelSMS
		}
	}
	if len(numbers) == 0 {
		return config.ChannelSMS
	}
	return config.ChannelWhatsApp
}

// simCommand runs one line: a command or a message.
func simCommand(ctx context.Context, s *sim.Simulator, cfg *config.Config, line string, out io.Writer) (quit bool, err error) {
	cmd, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
	if !strings.HasPrefix(cmd, "/") {
		res, err := s.Say(ctx, line)
		s.Print(res)
		return false, err
	}
	switch cmd {
	case "/quit", "/exit":
		return true, nil
	case "/help":
		fmt.Fprint(out, simulateHelp)
	case "/wait":
		if strings.TrimSpace(arg) == "" {
			return false, fmt.Errorf("/wait needs how long, e.g. /wait 2h, /wait 90m or /wait 3d")
		}
		d, err := config.ParseDuration(strings.TrimSpace(arg))
		if err != nil {
			return false, fmt.Errorf("/wait: %w", err)
		}
		res, err := s.Advance(ctx, d)
		s.Print(res)
		fmt.Fprintf(out, "  (clock now %s)\n", s.Clock.Now().In(cfg.Location()).Format("Mon 2006-01-02 15:04 MST"))
		return false, err
	case "/button":
		id := strings.TrimSpace(arg)
		if id == "" {
			return false, fmt.Errorf("/button needs the id of a button or list row, e.g. /button AGENT")
		}
		res, err := s.Press(ctx, id)
		s.Print(res)
		return false, err
	case "/from":
		if strings.TrimSpace(arg) == "" {
			return false, fmt.Errorf("/from needs a number, e.g. /from +15550002222 (or /from whatsapp:+15550002222)")
		}
		number, named := splitWhatsApp(strings.TrimSpace(arg))
		n, err := config.E164(number, cfg.Defaults.Region)
		if err != nil {
			return false, err
		}
		s.From = n
		if named != "" {
			s.Channel = named
		}
	case "/contact":
		c, err := s.Contact(ctx)
		if err != nil {
			return false, err
		}
		printContact(out, c, cfg.Location())
	default:
		return false, fmt.Errorf("unknown command %s (/help lists them)", cmd)
	}
	return false, nil
}

// printContact shows contact c for people: its number and name, then its
// groups, tags and opt-out state, and each field on a line of its own.
func printContact(out io.Writer, c *engine.Contact, loc *time.Location) {
	name := ""
	if c.Name != "" {
		name = fmt.Sprintf(" (%s)", c.Name)
	}
	fmt.Fprintf(out, "  contact %s%s\n", c.Phone, name)
	fmt.Fprintf(out, "    groups:    %s\n", listOrNone(c.Groups))
	fmt.Fprintf(out, "    tags:      %s\n", listOrNone(c.Tags))
	switch {
	case !c.OptedOut:
		fmt.Fprintln(out, "    opted out: no")
	case c.OptedOutAt != nil:
		fmt.Fprintf(out, "    opted out: yes, since %s\n", c.OptedOutAt.In(loc).Format("Mon 2006-01-02 15:04"))
	default:
		fmt.Fprintln(out, "    opted out: yes")
	}
	if len(c.Fields) == 0 {
		fmt.Fprintln(out, "    fields:    none")
		return
	}
	fmt.Fprintln(out, "    fields:")
	for _, k := range slices.Sorted(maps.Keys(c.Fields)) {
		fmt.Fprintf(out, "      %s: %s\n", k, c.Fields[k])
	}
}

// listOrNone joins items with commas, or says none.
func listOrNone(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, ", ")
}

// splitWhatsApp reads a contact's number as simulate's --from and /from and
// a test's from take it: "whatsapp:+1…", as Twilio writes a WhatsApp
// address, is that number on WhatsApp. It returns the number and the
// channel the prefix names ("" for a plain number).
func splitWhatsApp(from string) (number, channel string) {
	if n, ok := strings.CutPrefix(from, config.ChannelWhatsApp+":"); ok {
		return n, config.ChannelWhatsApp
	}
	return from, ""
}

// flagGiven reports whether the flag name was given on the command line
// (not left at its default).
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}
