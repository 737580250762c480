# Run at install time (cpack -G DragNDrop): copies the Qt frameworks and plugins into the
# bundle with macdeployqt, then keeps only the SQLite and PostgreSQL SQL drivers.
# In: AGMEM_MACDEPLOYQT, CMAKE_INSTALL_PREFIX (the staging folder during cpack).
set(bundle "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}/agmem-coordinator.app")
if(NOT EXISTS "${bundle}")
    message(FATAL_ERROR "deploy-qt: no bundle at ${bundle}")
endif()
message(STATUS "macdeployqt ${bundle}")
execute_process(COMMAND "${AGMEM_MACDEPLOYQT}" "${bundle}" -always-overwrite -verbose=1
    RESULT_VARIABLE result)
if(NOT result EQUAL 0)
    message(FATAL_ERROR "macdeployqt failed (${result})")
endif()
file(GLOB drivers "${bundle}/Contents/PlugIns/sqldrivers/*")
foreach(driver IN LISTS drivers)
    get_filename_component(name "${driver}" NAME)
    if(NOT name MATCHES "^libqsql(ite|psql)")
        message(STATUS "removing SQL driver ${name}")
        file(REMOVE "${driver}")
    endif()
endforeach()
