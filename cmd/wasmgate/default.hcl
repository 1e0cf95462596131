# The built-in demo: what `wasmgate` runs when it is given no configuration.
# The proxy listens on 127.0.0.1:8080 (or the address of -listen) and sends
# every connection to an echo server that wasmgate starts on a free port.
#
# This file is a Go text/template: the two actions in double braces below
# become those addresses, as quoted HCL strings, at startup. After that it
# is an ordinary configuration, like those `wasmgate run -config FILE` serves.

listener "demo" {
  address = {{ .Listen }}
  console = true # a web page at / to try it from a browser
}

upstream "echo" {
  servers = [{{ .Echo }}]
}

route "echo" {
  path        = "/"
  upstream    = "echo"
  compression = true # permessage-deflate, as browsers offer it
}
