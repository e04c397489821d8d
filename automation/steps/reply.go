package automation

import (
	"context"

	"github.com/keyway-sms/keyway/config"
)

func init() { Register("reply", compileReply) }

// Reply sends a message to the contact on its channel, from `from` if set,
// else the number it last wrote to, else the first configured number of
// that channel. An opted-out contact gets nothing. Validation warns when a
// fixed text takes more than one SMS segment (see Segments).
//
//   - id: ask
//     type: reply
//     text: "Hi {{ contact.name }}! What is your first name?"
//     media: ["https://example.com/menu.jpg"]
//     from: "+15005550006"
type Reply struct {
	Text  *Template
	Media []*Template
	From  string
}

type replyFields struct {
	Text  string   `yaml:"text"`
	Media []string `yaml:"media"`
	From  string   `yaml:"from"`
}

func compileReply(c *Compiler, s *config.Step) (Step, config.Problems) {
	var f replyFields
	if !c.Decode(s, &f) {
		return nil, nil
	}
	st := &Reply{Text: c.Template(s, "text", f.Text)}
	c.warnSegments(s, "text", st.Text)
	if f.Text == "" && len(f.Media) == 0 {
		c.Problemf(s, "", "a reply needs text or media")
	}
	for i, m := range f.Media {
		st.Media = append(st.Media, c.Template(s, fieldIndex("media", i), m))
	}
	st.From = c.Sender(s, "from", f.From)
	return st, nil
}

// Execute queues the reply.
func (st *Reply) Execute(_ context.Context, r *Run) (Outcome, error) {
	body, err := r.Render(st.Text)
	if err != nil {
		return Outcome{Next: config.End, EndReason: err.Error()}, nil
	}
	media, err := renderAll(r, st.Media)
	if err != nil {
		return Outcome{Next: config.End, EndReason: err.Error()}, nil
	}
	return Outcome{}, r.Reply(body, media, st.From)
}

var _ Step = (*Reply)(nil)
