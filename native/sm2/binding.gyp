{
  "targets": [
    {
      "target_name": "tongban_sm2",
      "sources": ["tongban_sm2.c"],
      "cflags": ["-O3", "-std=c11", "-Wall", "-Wextra"],
      "cflags!": ["-O2"],
      "defines": ["NAPI_DISABLE_CPP_EXCEPTIONS"]
    }
  ]
}
