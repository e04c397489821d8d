package test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The inbox in a real browser: a conversation answered from its page
// reaches the customer, a message the customer sends meanwhile appears
// without a reload (poll.js), an answer to an opted-out contact shows the
// reason, the handoff closes from its button; a one-off send and a start
// with its confirmation from a contact's page. Every page at both widths,
// without sideways scrolling, with a screenshot.
func TestDashboardInboxInABrowser(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, "defaults:\n  timezone: America/Chicago\n"+inboxConfig)
	ctx := browser(t) // closed before the gateway stops
	for phone, name := range map[string]string{customerA: "Ann Lee", customerB: "Bo Chen", customerC: "Cy Diaz"} {
		if code := g.Admin(http.MethodPut, "/api/v1/contacts/"+phone, map[string]any{"name": name}, nil); code != http.StatusOK && code != http.StatusCreated {
			t.Fatalf("PUT %s: %d", phone, code)
		}
	}
	g.Text(Inbound{From: customerA, Body: "AGENT my parcel never came"})
	waitSentTo(t, g, staffAnn, 1)
	g.Text(Inbound{From: customerB, Body: "JOIN"})
	repliesTo(t, g, customerB, 1)
	g.Text(Inbound{From: customerB, Body: "Do you deliver on Sundays?"})
	waitSentTo(t, g, staffAnn, 2)
	g.Text(Inbound{From: customerC, Body: "call me back"})
	waitSentTo(t, g, staffAnn, 3)
	g.Text(Inbound{From: customerC, Body: "STOP"})
	repliesTo(t, g, customerC, 1)

	shots := newScreenshots(t, ctx)
	run(t, ctx, "log in",
		atWidth(wideWidth),
		chromedp.Navigate(g.URL+"/admin/inbox"),
		chromedp.WaitVisible(`#token`, chromedp.ByID),
		chromedp.SendKeys(`#token`, AdminToken, chromedp.ByID),
		chromedp.Submit(`#token`, chromedp.ByID),
		chromedp.WaitVisible(`#inbox`, chromedp.ByID),
	)
	var list string
	var unanswered int
	run(t, ctx, "read the inbox",
		chromedp.Text(`#inbox`, &list, chromedp.ByID),
		chromedp.Evaluate(`document.querySelectorAll("#inbox li.unanswered").length`, &unanswered),
	)
	if unanswered != 3 || !strings.Contains(list, "Ann Lee") || !strings.Contains(list, "handoff open") || !strings.Contains(list, "Do you deliver on Sundays?") {
		t.Errorf("inbox (%d unanswered):\n%s", unanswered, list)
	}
	if i, j := strings.Index(list, "Cy Diaz"), strings.Index(list, "Ann Lee"); i < 0 || j < 0 || i > j {
		t.Errorf("the inbox is not newest activity first:\n%s", list)
	}

	// Ann's conversation: answer it.
	run(t, ctx, "open Ann's conversation",
		click(`#inbox li[data-contact="`+customerA+`"] a`),
		chromedp.WaitVisible(`#chat`, chromedp.ByID),
		chromedp.SendKeys(`#answer`, "So sorry, a new one leaves today.", chromedp.ByID),
		click(`#send-answer`),
		chromedp.WaitVisible(`#done`, chromedp.ByID),
	)
	if got := waitSentTo(t, g, customerA, 1)[0]; got.From != OurSMS || got.Body != "So sorry, a new one leaves today." {
		t.Errorf("answer = from %s %q", got.From, got.Body)
	}
	// Ann writes again: the page shows it without a reload.
	g.Text(Inbound{From: customerA, Body: "Thank you!"})
	run(t, ctx, "see Ann's new message appear",
		chromedp.WaitVisible(`//ol[@id="chat"]//div[@class="body"][text()="Thank you!"]`, chromedp.BySearch),
	)
	var order string
	run(t, ctx, "read the chat", chromedp.Evaluate(`Array.from(document.querySelectorAll("#chat li")).map(li => li.className.split(" ").slice(0, 2).join(" ") + ":" + li.querySelector(".body").textContent).join("|")`, &order))
	if !strings.HasPrefix(order, "msg in:AGENT my parcel never came|msg fwd:") || !strings.Contains(order, "|msg out:So sorry, a new one leaves today.|msg in:Thank you!") {
		t.Errorf("chat, oldest first: %s", order)
	}

	// Cy opted out: the answer does not go, and the page says why.
	run(t, ctx, "answer Cy",
		chromedp.Navigate(g.URL+"/admin/inbox/%2B"+strings.TrimPrefix(customerC, "+")),
		chromedp.WaitVisible(`#answer`, chromedp.ByID),
		chromedp.SendKeys(`#answer`, "Calling now", chromedp.ByID),
		click(`#send-answer`),
		chromedp.WaitVisible(`#not-sent`, chromedp.ByID),
	)
	var why string
	run(t, ctx, "read why", chromedp.Text(`#not-sent`, &why, chromedp.ByID))
	if !strings.Contains(why, "opted out") {
		t.Errorf("not sent: %q", why)
	}

	// Close Ann's handoff from its button: the automation goes on.
	run(t, ctx, "close Ann's handoff",
		chromedp.Navigate(g.URL+"/admin/inbox/%2B"+strings.TrimPrefix(customerA, "+")),
		chromedp.WaitVisible(`#close-handoff`, chromedp.ByID),
		click(`#close-handoff`),
		chromedp.WaitVisible(`#done`, chromedp.ByID),
	)
	if got := waitSentTo(t, g, customerA, 2)[1]; got.Body != "Thanks for talking to us!" {
		t.Errorf("after closing, Ann got %q", got.Body)
	}

	// A one-off message from Bo's contact page.
	run(t, ctx, "send Bo a message",
		chromedp.Navigate(g.URL+"/admin/contacts/%2B"+strings.TrimPrefix(customerB, "+")),
		chromedp.WaitVisible(`#contact-actions`, chromedp.ByID),
		click(`#contact-actions a[href$="/send"]`),
		chromedp.WaitVisible(`#send-form`, chromedp.ByID),
		chromedp.SendKeys(`#text`, "Yes, 10 to 4 on Sundays.", chromedp.ByID),
		click(`#send`),
		chromedp.WaitVisible(`#done`, chromedp.ByID),
	)
	if got := waitSentTo(t, g, customerB, 2)[1]; got.Body != "Yes, 10 to 4 on Sundays." {
		t.Errorf("one-off to Bo: %q", got.Body)
	}
	// Start promo for the newsletter's... one contact: Bo.
	var reach string
	run(t, ctx, "start promo for Bo",
		chromedp.Navigate(g.URL+"/admin/contacts/%2B"+strings.TrimPrefix(customerB, "+")),
		chromedp.WaitVisible(`#contact-actions`, chromedp.ByID),
		click(`#contact-actions a[href^="/admin/start"]`),
		chromedp.WaitVisible(`#start-form`, chromedp.ByID),
		chromedp.SetValue(`#automation`, "promo", chromedp.ByID),
		click(`#next`),
		chromedp.WaitVisible(`#confirm`, chromedp.ByID),
		chromedp.Text(`#confirm`, &reach, chromedp.ByID),
	)
	if !strings.Contains(reach, "It will reach 1 contact") || !strings.Contains(reach, "Bo Chen") {
		t.Errorf("confirmation: %q", reach)
	}
	run(t, ctx, "confirm", click(`#start`), chromedp.WaitVisible(`#result`, chromedp.ByID))
	if got := waitSentTo(t, g, customerB, 3)[2]; got.Body != "Our spring offer is on." {
		t.Errorf("promo to Bo: %q", got.Body)
	}

	// Every page at both widths.
	pages := []dashPage{
		{"inbox", "/admin/inbox", "#inbox"},
		{"conversation", "/admin/inbox/%2B" + strings.TrimPrefix(customerB, "+"), "#chat"},
		{"send", "/admin/contacts/%2B" + strings.TrimPrefix(customerB, "+") + "/send", "#send-form"},
		{"start", "/admin/start?contact=%2B" + strings.TrimPrefix(customerB, "+"), "#start-form"},
	}
	for _, width := range []int{wideWidth, phoneWidth} {
		suffix := ""
		if width == phoneWidth {
			suffix = "-phone"
		}
		openPages(t, ctx, g, shots, width, pages)
		run(t, ctx, fmt.Sprintf("confirm a group start at %d px", width),
			chromedp.Navigate(g.URL+"/admin/start"),
			chromedp.WaitVisible(`#start-form`, chromedp.ByID),
			chromedp.SetValue(`#automation`, "promo", chromedp.ByID),
			click(`input[name=target][value=group]`),
			chromedp.SetValue(`#group`, "newsletter", chromedp.ByID),
			click(`#next`),
			chromedp.WaitVisible(`#confirm`, chromedp.ByID),
			chromedp.Text(`#confirm`, &reach, chromedp.ByID),
		)
		if !strings.Contains(reach, "It will reach 1 contact") || !strings.Contains(reach, "group newsletter") {
			t.Errorf("group confirmation at %d px: %q", width, reach)
		}
		fits(t, ctx, "start-confirm", width)
		shots.take("start-confirm" + suffix)
	}
}
