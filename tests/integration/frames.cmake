# frames: malformed, wrong-role and unexpected frames sent to every socket of a real rtr-router
# and rtr-backend (started by PID on a generated facility); each batch must be rejected and
# counted exactly ("show counters"), and the daemons must keep serving (admin answers, a librtr
# transaction still commits end to end). One Criterion test per socket.
#   frames_daemon_test    suite "frames": corpus, wrong role, unexpected body, empty frame,
#                         extra frames, wrong version (and an unknown backend on router peers)
#   frames_oversize_test  suite "frames_oversize": a frame of settings.max_frame_bytes + 1 to
#                         each socket (kept apart so that its outcome does not hide the others)
rtr_add_test(NAME frames_daemon_test TIMEOUT 300
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/frames_daemon_test.c
  LIBS rtr rtr_wire_zmq rtr_common PkgConfig::JANSSON
  ARGS --filter "frames/*")
target_compile_definitions(frames_daemon_test PRIVATE
  FR_ROUTER_BIN="$<TARGET_FILE:rtr-router>" FR_BACKEND_BIN="$<TARGET_FILE:rtr-backend>")
add_dependencies(frames_daemon_test rtr-router rtr-backend)

add_test(NAME frames_oversize_test COMMAND frames_daemon_test --filter "frames_oversize/*")
set_tests_properties(frames_oversize_test PROPERTIES
  FAIL_REGULAR_EXPRESSION "${RTR_SANITIZER_FAIL_REGEX}"
  TIMEOUT 300
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0;UBSAN_OPTIONS=print_stacktrace=1")
