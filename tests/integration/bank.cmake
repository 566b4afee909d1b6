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
# The helpers shared by these scripts (3 routers, the pair, predicates on show partition) are in
# shadow_lib.sh.
if(TARGET bank_server AND TARGET bank_client AND TARGET bank_verify AND TARGET rtrcli)
  add_executable(bank_dump ${CMAKE_CURRENT_SOURCE_DIR}/bank_dump.c)
  target_link_libraries(bank_dump PRIVATE bank_db rtr_build_flags)
  set(BANK_SHADOW_TRANSFERS 2000)
  rtr_add_script_test(NAME bank_shadow TIMEOUT 480
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/bank_shadow.sh $<TARGET_FILE:rtrcli>
            $<TARGET_FILE:rtr-backend> $<TARGET_FILE:bank_server> $<TARGET_FILE:bank_client>
            $<TARGET_FILE:bank_verify> $<TARGET_FILE:bank_dump> ${BANK_SHADOW_TRANSFERS})

  # Scenario 6: the primary's node crashes under load (rtr-backend and its bank server killed
  # with SIGKILL) and is restarted within the failure timeout: a new epoch with a primary, the
  # pair back to pri_act/sec_act; both journals agree on every CSN, every accepted TID
  # committed once in each, the databases identical.
  set(BANK_SHADOW_RESTART_TRANSFERS 1500)
  set(BANK_SHADOW_RESTART_ARGS $<TARGET_FILE:rtrcli> $<TARGET_FILE:rtr-backend>
      $<TARGET_FILE:bank_server> $<TARGET_FILE:bank_client> $<TARGET_FILE:bank_verify>
      $<TARGET_FILE:bank_dump> ${BANK_SHADOW_RESTART_TRANSFERS})
  rtr_add_script_test(NAME bank_shadow_restart TIMEOUT 180
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/bank_shadow_restart.sh ${BANK_SHADOW_RESTART_ARGS})

  # Scenario 7: the secondary's bank server computes a different result for one transfer
  # (bank_server_fault: the example's server built with its test-only fault options; never
  # installed, the shipped bank_server has no such option): the secondary goes shd_out
  # (BKD-DIVERGED), the primary commits on alone.
  add_executable(bank_server_fault ${PROJECT_SOURCE_DIR}/examples/bank/bank_server.c)
  target_compile_definitions(bank_server_fault PRIVATE BANK_TEST_FAULTS)
  target_link_libraries(bank_server_fault PRIVATE bank_db rtr Threads::Threads rtr_build_flags)
  set(BANK_SHADOW_DIVERGE_TRANSFERS 1500)

  rtr_add_script_test(NAME bank_shadow_diverge TIMEOUT 240
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/bank_shadow_diverge.sh $<TARGET_FILE:rtrcli>
            $<TARGET_FILE:rtr-backend> $<TARGET_FILE:bank_server> $<TARGET_FILE:bank_client>
            $<TARGET_FILE:bank_verify> $<TARGET_FILE:bank_dump> ${BANK_SHADOW_DIVERGE_TRANSFERS}
            $<TARGET_FILE:bank_server_fault>)

  # Scenario 6 as stated (only rtr-backend killed, its bank server keeps running): librtr
  # announces the server channel again to the restarted backend (a new incarnation on the same
  # connection, before any silence was noticed).
  rtr_add_script_test(NAME bank_shadow_restart_keep_server TIMEOUT 240
    COMMAND ${CMAKE_COMMAND} -E env BANK_SHADOW_KEEP_SERVER=1
            bash ${CMAKE_CURRENT_SOURCE_DIR}/bank_shadow_restart.sh ${BANK_SHADOW_RESTART_ARGS})

  # Scenario 5: both members stopped, only the one outside the in-sync set started: it waits;
  # the operator's FORCE prints the loss list (checked against both journals), refuses without
  # the partition's name, and makes it primary with --yes.
  rtr_add_script_test(NAME bank_shadow_force TIMEOUT 240
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/bank_shadow_force.sh $<TARGET_FILE:rtrcli>
            $<TARGET_FILE:rtr-backend> $<TARGET_FILE:bank_server> $<TARGET_FILE:bank_client>
            $<TARGET_FILE:bank_verify> $<TARGET_FILE:bank_dump> 900)
endif()
