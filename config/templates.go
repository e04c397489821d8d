package config

// TemplateForm is how a provider's numbers send a WhatsApp template.
type TemplateForm int

// Template forms.
const (
	// TemplatesNone: the provider sends no templates (SMS only), or did
	// not say.
	TemplatesNone TemplateForm = iota
	// TemplatesByContentSID: a content sid and its variables by key.
	TemplatesByContentSID
	// TemplatesByName: a template name, a language code and its
	// variables in order.
	TemplatesByName
)

// templateForms holds the template form of each provider key that declared
// one.
var templateForms = map[string]TemplateForm{}

// SetTemplateForm declares how the numbers of provider name send
// templates. A provider that sends them calls it from its init
// (providers.Register does, from Registration.Templates).
func SetTemplateForm(name string, f TemplateForm) {
	sectionsMu.Lock()
	defer sectionsMu.Unlock()
	templateForms[name] = f
}

// TemplateFormOf returns how the numbers of provider name send templates.
func TemplateFormOf(name string) TemplateForm {
	sectionsMu.RLock()
	defer sectionsMu.RUnlock()
	return templateForms[name]
}
