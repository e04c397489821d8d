package config

import "testing"

func TestAdminListen(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"unset", "server: { listen: \":8080\" }\n", nil},
		{"loopback", "server: { listen: \":8080\", admin_listen: \"127.0.0.1:8081\" }\n", nil},
		{"private", "server: { listen: \":8080\", admin_listen: \"10.0.0.5:8081\" }\n", nil},
		{"not an address", "server: { listen: \":8080\", admin_listen: \"8081\" }\n",
			[]string{`k.yaml:1:42: server.admin_listen: "8081" is not an address to listen on: missing port in address; write host:port, e.g. "127.0.0.1:8081"`}},
		{"bad port", "server: { listen: \":8080\", admin_listen: \"127.0.0.1:99999\" }\n",
			[]string{`k.yaml:1:42: server.admin_listen: "127.0.0.1:99999" is not an address to listen on: port "99999" is not a port number from 0 to 65535; write host:port, e.g. "127.0.0.1:8081"`}},
		{"same as listen", "server: { listen: \":8080\", admin_listen: \":8080\" }\n",
			[]string{`k.yaml:1:42: server.admin_listen: ":8080" is server.listen too; give the admin listener an address of its own, or leave admin_listen out to serve everything on listen`}},
		{"listen's port on every interface", "server: { listen: \":8080\", admin_listen: \"127.0.0.1:8080\" }\n",
			[]string{`k.yaml:1:42: server.admin_listen: "127.0.0.1:8080" takes the port of server.listen (":8080") on an address it covers too, so keyway could not listen on both; give the admin listener another port`}},
		{"listen's port and host by name", "server: { listen: \"127.0.0.1:8080\", admin_listen: \"localhost:8080\" }\n",
			[]string{`k.yaml:1:51: server.admin_listen: "localhost:8080" takes the port of server.listen ("127.0.0.1:8080") on an address it covers too, so keyway could not listen on both; give the admin listener another port`}},
		{"listen's port on another address", "server: { listen: \"10.0.0.5:8080\", admin_listen: \"127.0.0.1:8080\" }\n", nil},
		{"both on a free port", "server: { listen: \"127.0.0.1:0\", admin_listen: \"127.0.0.1:0\" }\n", nil},
		{"every interface", "server: { listen: \":8080\", admin_listen: \":8081\" }\n",
			[]string{`k.yaml:1:42: warning: server.admin_listen: ":8081" listens on every interface; put the admin API and dashboard on loopback ("127.0.0.1:8081") or a private network address`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, ps := mustParse(t, tc.src, nil)
			checkProblems(t, withoutHelpWarning(ps), tc.want)
			if len(tc.want) == 0 && c.Server.AdminListen == "" && tc.name != "unset" {
				t.Errorf("admin_listen was not read")
			}
		})
	}
}
