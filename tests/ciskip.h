#pragma once

// Skips for what the environment lacks (a tool, a built binary), which CI must never lack:
// under CI=true they fail instead, so a suite cannot pass in CI by testing nothing.
// (PostgreSQL has its own, AGMEM_REQUIRE_POSTGRES in pgsupport.h.)

#include <QtGlobal>
#include <QtTest>

namespace agmem::test {

inline bool ciRun()
{
    return qEnvironmentVariable("CI") == QStringLiteral("true");
}

} // namespace agmem::test

#define AGMEM_SKIP_ENVIRONMENT(why)                                                                \
    do {                                                                                           \
        if (agmem::test::ciRun())                                                                  \
            QFAIL(qPrintable(QStringLiteral("CI=true: ") + QStringLiteral(why)));                  \
        QSKIP(why);                                                                                \
    } while (false)
