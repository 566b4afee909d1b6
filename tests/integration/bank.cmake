# The bank example's integration tests (issue 4), on real rtr-router / rtr-backend processes
# started by `rtrcli start facility`. The binaries' paths are passed in so that each build
# (gcc, ASan+UBSan) tests its own. The transfer counts are the scripts' last argument: the same
# in both builds (bank_stress takes about 20 s with gcc, 40 s under the sanitizers, alone on
# a 2-core machine).
if(TARGET bank_server AND TARGET bank_client AND TARGET bank_verify AND TARGET rtrcli)
  set(BANK_STRESS_TRANSFERS 10000)
  set(BANK_RESTART_TRANSFERS 4000)

  # 10,000 transfers, 16 channels, 2 partitions x 2 concurrent bank servers; one bank
  # server killed with SIGKILL mid-run and restarted; exactly once, conservation, replays.
  rtr_add_script_test(NAME bank_stress TIMEOUT 240
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/bank_stress.sh $<TARGET_FILE:rtrcli>
            $<TARGET_FILE:bank_server> $<TARGET_FILE:bank_client> $<TARGET_FILE:bank_verify>
            ${BANK_STRESS_TRANSFERS})

  # The router killed with SIGKILL mid-run and restarted: a clear status for every transaction
  # in flight, the clients carry on, nothing accepted lost, nothing applied twice.
  rtr_add_script_test(NAME bank_router_restart TIMEOUT 240
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/bank_router_restart.sh $<TARGET_FILE:rtrcli>
            $<TARGET_FILE:rtr-router> $<TARGET_FILE:bank_server> $<TARGET_FILE:bank_client>
            $<TARGET_FILE:bank_verify> ${BANK_RESTART_TRANSFERS})
endif()

# Shadow pairs (docs/shadow-protocol.md §9, milestone M7): one shadowed partition served by a
# primary and a secondary rtr-backend, a bank server with its own database on each; after
# the load (and again after the secondary is killed with SIGKILL under load and restarted) both
# databases are identical. bank_dump prints a database as sorted text for the comparison.
if(TARGET bank_server AND TARGET bank_client AND TARGET bank_verify AND TARGET rtrcli)
  add_executable(bank_dump ${CMAKE_CURRENT_SOURCE_DIR}/bank_dump.c)
  target_link_libraries(bank_dump PRIVATE bank_db rtr_build_flags)
  set(BANK_SHADOW_TRANSFERS 2000)
  rtr_add_script_test(NAME bank_shadow TIMEOUT 240
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/bank_shadow.sh $<TARGET_FILE:rtrcli>
            $<TARGET_FILE:rtr-backend> $<TARGET_FILE:bank_server> $<TARGET_FILE:bank_client>
            $<TARGET_FILE:bank_verify> $<TARGET_FILE:bank_dump> ${BANK_SHADOW_TRANSFERS})
endif()
