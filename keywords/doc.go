// Package keywords turns message text into the form keywords are compared in
// and finds which keyword, if any, a message starts with.
//
// [Normalize] folds away what people type differently but mean the same:
// case, accents, compatibility forms (full-width letters, ligatures),
// punctuation and symbols around words, and runs of white space. An [Index]
// maps normalised keywords to values (automations, compliance families) and is
// built once when the configuration loads, then read by every inbound message.
// Keywords are unique after normalisation: adding "cafe" after "Café" fails
// with a [*ConflictError] that carries the keyword already there.
package keywords
