# Sourced by the bench scripts here: what they share.
# TOKEN is the fake Twilio account's auth token the bodies are signed with.
TOKEN=6789ab6789ab6789ab6789ab6789ab67

# bench_automations FAKE: the end of bench.sh's keyway config, after the
# script's own server and storage lines: one Twilio number whose API is the
# fake Twilio at FAKE (host:port), a keyword reply and a catch-all reply.
bench_automations() {
cat <<YAML
providers:
  twilio:
    account_sid: "AC0123456789abcdef0123456789abcdef"
    auth_token: "$TOKEN"
    api_base_url: "http://$1"
    numbers: [ { number: "+15017122661", channel: sms } ]
automations:
  - id: join
    keywords: [JOIN]
    steps: [ { type: reply, text: "Thanks! You are subscribed. Reply STOP to end." } ]
  - id: desk
    catch_all: true
    steps: [ { type: reply, text: "We got your message." } ]
YAML
}
