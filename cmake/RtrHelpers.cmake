# rtr_add_test(NAME name SOURCES a.c b.c LIBS lib...)
# A Criterion test executable registered with ctest. Criterion reports a test as passed even
# when a sanitizer prints a report in its worker at exit, so ctest itself fails the test on any
# sanitizer line (DESIGN §11).
set(RTR_SANITIZER_FAIL_REGEX
  "ERROR: AddressSanitizer;ERROR: LeakSanitizer;runtime error:;WARNING: ThreadSanitizer;ERROR: UndefinedBehaviorSanitizer")

function(rtr_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;ARGS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} rtr_test_support PkgConfig::CRITERION rtr_build_flags)
  add_test(NAME ${T_NAME} COMMAND ${T_NAME} ${T_ARGS})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES
    FAIL_REGULAR_EXPRESSION "${RTR_SANITIZER_FAIL_REGEX}"
    TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0;UBSAN_OPTIONS=print_stacktrace=1")
endfunction()

# rtr_add_script_test(NAME name COMMAND cmd args...): a test that is a program or script run
# as is (integration tests, CLI tests); the same sanitizer rule applies.
function(rtr_add_script_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "COMMAND" ${ARGN})
  add_test(NAME ${T_NAME} COMMAND ${T_COMMAND})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES
    FAIL_REGULAR_EXPRESSION "${RTR_SANITIZER_FAIL_REGEX}"
    TIMEOUT ${T_TIMEOUT})
endfunction()
