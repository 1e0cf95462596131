route "chat" {
  upstream = "chat"
}
