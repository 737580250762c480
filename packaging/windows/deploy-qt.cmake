# Run at install time (cpack -G NSIS/ZIP): copies the Qt runtime next to the executable
# with windeployqt, then keeps only the SQLite and PostgreSQL SQL drivers, and bundles
# libpq (which Qt's PostgreSQL driver loads) when AGMEM_LIBPQ_DIR names a folder with it.
# In: AGMEM_WINDEPLOYQT, AGMEM_LIBPQ_DIR, CMAKE_INSTALL_PREFIX (the staging folder).
set(bin "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}/bin")
set(exe "${bin}/agmem-coordinator.exe")
if(NOT EXISTS "${exe}")
    message(FATAL_ERROR "deploy-qt: no executable at ${exe}")
endif()
message(STATUS "windeployqt ${exe}")
execute_process(COMMAND "${AGMEM_WINDEPLOYQT}" --release --no-compiler-runtime
                        --no-system-d3d-compiler --verbose 1 "${exe}"
    RESULT_VARIABLE result)
if(NOT result EQUAL 0)
    message(FATAL_ERROR "windeployqt failed (${result})")
endif()
file(GLOB drivers "${bin}/sqldrivers/*")
foreach(driver IN LISTS drivers)
    get_filename_component(name "${driver}" NAME)
    if(NOT name MATCHES "^qsql(ite|psql)\\.dll$")
        message(STATUS "removing SQL driver ${name}")
        file(REMOVE "${driver}")
    endif()
endforeach()
if(AGMEM_LIBPQ_DIR)
    # libpq.dll and what it links (OpenSSL, gettext, iconv) from a PostgreSQL install.
    file(GLOB libpq "${AGMEM_LIBPQ_DIR}/libpq.dll" "${AGMEM_LIBPQ_DIR}/libssl*.dll"
                    "${AGMEM_LIBPQ_DIR}/libcrypto*.dll" "${AGMEM_LIBPQ_DIR}/libintl*.dll"
                    "${AGMEM_LIBPQ_DIR}/libiconv*.dll" "${AGMEM_LIBPQ_DIR}/libwinpthread*.dll")
    if(NOT libpq)
        message(FATAL_ERROR "AGMEM_LIBPQ_DIR=${AGMEM_LIBPQ_DIR} has no libpq.dll")
    endif()
    file(COPY ${libpq} DESTINATION "${bin}")
endif()
