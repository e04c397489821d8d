package gateway

import (
	"errors"
	"net/url"

	"github.com/gofiber/fiber/v2"

	"github.com/keyway-sms/keyway/automation/engine"
)

// dashPause pauses (paused=1) or resumes (paused=0) an automation from its
// page, as the acting admin, and goes back to the page, which says who
// paused it and when. Resuming an automation the file disables enables it
// against the file, until a reload changes it (engine.SetPaused). Admin
// only, with the session's CSRF token.
func (g *Gateway) dashPause(c *fiber.Ctx) error {
	id := pathParam(c, "id")
	paused := c.FormValue("paused") == "1"
	_, err := g.engine.SetPaused(c.UserContext(), id, paused)
	switch {
	case errors.Is(err, engine.ErrNotFound):
		return fiber.NewError(fiber.StatusNotFound, "no automation "+id)
	case err != nil:
		return err
	}
	g.log.Info().Str("automation", id).Bool("paused", paused).Str("by", actor(c).Name).Msg("dashboard: automation paused or enabled")
	return c.Redirect("/admin/automations/"+url.PathEscape(id), fiber.StatusSeeOther)
}
