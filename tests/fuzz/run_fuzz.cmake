# Run by ctest (tests/fuzz/CMakeLists.txt): copy the seed corpus to WORK/corpus, then fuzz for
# SECONDS seconds with FUZZER over that copy. Fails if the fuzzer finds a crash (the input is
# left in WORK/ as crash-*, to reproduce with `FUZZER WORK/crash-...`).
foreach(v FUZZER CORPUS WORK SECONDS)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "run_fuzz.cmake: -D${v}=... is required")
  endif()
endforeach()
file(REMOVE_RECURSE ${WORK}/corpus)
file(MAKE_DIRECTORY ${WORK})
file(COPY ${CORPUS}/ DESTINATION ${WORK}/corpus)
execute_process(
  COMMAND ${FUZZER} ${WORK}/corpus
    -max_total_time=${SECONDS} -rss_limit_mb=2048 -timeout=60 -max_len=4096
    -artifact_prefix=${WORK}/ -print_final_stats=1
  WORKING_DIRECTORY ${WORK}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "fuzz_ops failed (exit ${rc}); crash inputs are in ${WORK}/")
endif()
