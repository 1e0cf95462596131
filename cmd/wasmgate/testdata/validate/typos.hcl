listener "public" {
  adress = "127.0.0.1:8080"
}

upstream "chat" {
  servers = ["ws://127.0.0.1:9000"]
}

route "chat" {
  listener = "pubic"
  upstream = "chat"
	hots     = "chat.example.com"
}
