package gateway

import (
	"errors"
	"net/url"

	"github.com/gofiber/fiber/v2"

	"github.com/keyway-sms/keyway/automation/engine"
)

// dashPause pauses (paused=1) or resumes (paused=0) an automation from its
// page, as the acting admin, and goes back to the page, which says who
// paused it and when. Admin only, with the session's CSRF token.
func (g *Gateway) dashPause(c *fiber.Ctx) error {
	id := c.Params("id")
	paused := c.FormValue("paused") == "1"
	_, err := g.engine.SetPaused(c.UserContext(), id, paused)
	switch {
	case errors.Is(err, engine.ErrNotFound):
		return fiber.NewError(fiber.StatusNotFound, "no automation "+id)
	case errors.Is(err, engine.ErrPaused):
		return fiber.NewError(fiber.StatusConflict, "automation "+id+" is paused in the file (enabled: false): enable it there")
	case err != nil:
		return err
	}
	g.log.Info().Str("automation", id).Bool("paused", paused).Str("by", actor(c).Name).Msg("dashboard: automation paused or resumed")
	return c.Redirect("/admin/automations/"+url.PathEscape(id), fiber.StatusSeeOther)
}
