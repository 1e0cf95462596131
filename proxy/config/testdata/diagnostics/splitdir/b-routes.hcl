route "chat" {
  listener = "public"
  upstream = "chat"
  path     = "ws"
}
