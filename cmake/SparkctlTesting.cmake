# sparkctl_add_test(NAME <binary> LABEL unit|e2e [SERIAL] SOURCES ... LIBS ...)
# One GoogleTest binary per module; tests are discovered at test time and labelled. SERIAL: its
# tests run alone under `ctest -j` (they measure wall-clock timing, which parallel tests skew).
function(sparkctl_add_test)
  cmake_parse_arguments(T "SERIAL" "NAME;LABEL" "SOURCES;LIBS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main GTest::gmock
                        sparkctl_options)
  target_include_directories(${T_NAME} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  # Where tests find the binary under test and the repository's test data (env vars of the same
  # names override these).
  target_compile_definitions(${T_NAME} PRIVATE
      SPARKCTL_TEST_BINARY="$<TARGET_FILE:sparkctl>"
      SPARKCTL_TEST_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  set(serial FALSE)
  if(T_SERIAL)
    set(serial TRUE)
  endif()
  gtest_discover_tests(${T_NAME} DISCOVERY_MODE PRE_TEST
                       PROPERTIES LABELS ${T_LABEL}
                                  ENVIRONMENT "SPARKCTL_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
                                  RUN_SERIAL ${serial})
endfunction()
