package steps

import (
	"context"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

func init() { engine.Register("reply", compileReply) }

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
	Text  *engine.Template
	Media []*engine.Template
	From  string
}

type replyFields struct {
	Text  string   `yaml:"text"`
	Media []string `yaml:"media"`
	From  string   `yaml:"from"`
}

func compileReply(c *engine.Compiler, s *config.Step) (engine.Step, config.Problems) {
	var f replyFields
	if !c.Decode(s, &f) {
		return nil, nil
	}
	st := &Reply{Text: c.Template(s, "text", f.Text)}
	c.WarnSegments(s, "text", st.Text)
	if f.Text == "" && len(f.Media) == 0 {
		c.Problemf(s, "", "a reply needs text or media")
	}
	for i, m := range f.Media {
		st.Media = append(st.Media, c.Template(s, engine.FieldIndex("media", i), m))
	}
	st.From = c.Sender(s, "from", f.From)
	return st, nil
}

// Execute queues the reply.
func (st *Reply) Execute(_ context.Context, r *engine.Run) (engine.Outcome, error) {
	body, err := r.Render(st.Text)
	if err != nil {
		return engine.Outcome{Next: config.End, EndReason: err.Error()}, nil
	}
	media, err := engine.RenderAll(r, st.Media)
	if err != nil {
		return engine.Outcome{Next: config.End, EndReason: err.Error()}, nil
	}
	return engine.Outcome{}, r.Reply(body, media, st.From)
}

var _ engine.Step = (*Reply)(nil)
