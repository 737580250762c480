#include "stallprobe.h"

#include "core/logging.h"

#include <QDateTime>
#include <QEvent>
#include <QWidget>

#include <QSocketNotifier>
#include <QStringList>
#include <QTabWidget>
#include <QWidget>

#include <algorithm>
#include <cmath>

#ifdef Q_OS_UNIX
#include <csignal>
#include <sys/socket.h>
#include <unistd.h>
#endif

namespace agmem {

namespace {

constexpr int ReportIntervalMs = 10'000;
constexpr qint64 BucketNs = 100'000; // 0.1 ms

#ifdef Q_OS_UNIX
int restartPipe[2] = {-1, -1};

void onRestartSignal(int)
{
    const char byte = 1;
    [[maybe_unused]] const auto written = ::write(restartPipe[1], &byte, 1);
}
#endif

} // namespace

void StallProbe::Histogram::add(qint64 gapNs)
{
    ++m_counts[size_t(std::clamp<qint64>(gapNs / BucketNs, 0, Buckets - 1))];
    ++m_ticks;
    m_worstNs = std::max(m_worstNs, gapNs);
}

StallProbe::Stats StallProbe::Histogram::stats() const
{
    Stats s;
    s.ticks = m_ticks;
    s.worstMs = double(m_worstNs) / 1e6;
    if (m_ticks == 0)
        return s;
    // The upper edge of the bucket that holds the percentile (never above the worst).
    const auto percentile = [this](double fraction) {
        const qint64 rank = std::max<qint64>(1, qint64(std::ceil(double(m_ticks) * fraction)));
        qint64 seen = 0;
        for (int i = 0; i < Buckets; ++i) {
            seen += m_counts[size_t(i)];
            if (seen >= rank)
                return std::min(double(i + 1) * double(BucketNs), double(m_worstNs)) / 1e6;
        }
        return double(m_worstNs) / 1e6;
    };
    s.p50Ms = percentile(0.5);
    s.p99Ms = percentile(0.99);
    s.p999Ms = percentile(0.999);
    return s;
}

StallProbe::StallProbe(int intervalMs, QObject *parent)
    : QObject(parent)
    , m_intervalMs(intervalMs)
{
    m_timer.setTimerType(Qt::PreciseTimer);
    m_timer.setInterval(intervalMs);
    connect(&m_timer, &QTimer::timeout, this, &StallProbe::tick);
    m_reportTimer.setInterval(ReportIntervalMs);
    connect(&m_reportTimer, &QTimer::timeout, this, [this] {
        log(QStringLiteral("last 10 s"), m_window.stats(), m_windowSections);
        m_window.clear();
        m_windowSections.clear();
    });
    m_clock.start();
    m_timer.start();
    m_reportTimer.start();
    listenForRestart();
    s_active = this;
    qCInfo(lcGui).noquote() << "stall probe: a" << intervalMs
                            << "ms timer on the GUI thread records the gaps between its ticks";
}

StallProbe::~StallProbe()
{
    if (s_active == this)
        s_active = nullptr;
    log(QStringLiteral("at exit, whole run"), m_total.stats(), m_totalSections);
}

void StallProbe::record(const char *name, qint64 ns)
{
    for (Sections *sections : {&m_windowSections, &m_totalSections}) {
        auto it = std::find_if(sections->begin(), sections->end(),
                               [name](const auto &s) { return s.first == name; });
        if (it == sections->end())
            it = sections->insert(sections->end(), {QByteArray(name), Section{}});
        ++it->second.runs;
        it->second.totalNs += ns;
        it->second.longestNs = std::max(it->second.longestNs, ns);
    }
}

std::unique_ptr<StallProbe> StallProbe::fromEnvironment()
{
    if (qEnvironmentVariableIntValue("AGMEM_GUI_STALL_PROBE") != 1)
        return nullptr;
    return std::make_unique<StallProbe>();
}

void StallProbe::showTabFromEnvironment(QWidget *window)
{
    const QString name = qEnvironmentVariable("AGMEM_GUI_TAB");
    if (name.isEmpty())
        return;
    auto *tabs = window->findChild<QTabWidget *>(QStringLiteral("tabs"));
    QWidget *page = tabs ? tabs->findChild<QWidget *>(name + u"Tab") : nullptr;
    if (!page) {
        qCWarning(lcGui).noquote() << "AGMEM_GUI_TAB: no tab" << name;
        return;
    }
    tabs->setCurrentWidget(page);
}

void StallProbe::listenForRestart()
{
#ifdef Q_OS_UNIX
    // A self-pipe: the signal handler only writes a byte.
    if (restartPipe[0] >= 0 || ::socketpair(AF_UNIX, SOCK_STREAM, 0, restartPipe) != 0)
        return;
    auto *notifier = new QSocketNotifier(restartPipe[0], QSocketNotifier::Read, this);
    connect(notifier, &QSocketNotifier::activated, this, [this] {
        char byte;
        [[maybe_unused]] const auto got = ::read(restartPipe[0], &byte, 1);
        restart();
    });
    struct sigaction action = {};
    action.sa_handler = onRestartSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    ::sigaction(SIGUSR1, &action, nullptr);
#endif
}

void StallProbe::restart()
{
    log(QStringLiteral("until restarted"), m_total.stats(), m_totalSections);
    m_total.clear();
    m_window.clear();
    m_totalSections.clear();
    m_windowSections.clear();
    m_lastNs = -1;
    m_reportTimer.start();
    qCInfo(lcGui) << "stall probe: measuring afresh";
}

void StallProbe::tick()
{
    const qint64 now = m_clock.nsecsElapsed();
    if (m_lastNs >= 0) {
        m_window.add(now - m_lastNs);
        m_total.add(now - m_lastNs);
    }
    m_lastNs = now;
}

void StallProbe::mark(const char *name)
{
    if (s_active)
        qCInfo(lcGui).noquote() << QStringLiteral("stall probe mark: %1 at %2")
                                       .arg(QLatin1String(name))
                                       .arg(QDateTime::currentMSecsSinceEpoch());
}

namespace {

class FirstPaint : public QObject
{
public:
    using QObject::QObject;
    bool eventFilter(QObject *watched, QEvent *event) override
    {
        if (event->type() == QEvent::Paint) {
            StallProbe::mark("window shown");
            watched->removeEventFilter(this);
            deleteLater();
        }
        return false;
    }
};

} // namespace

void StallProbe::markFirstPaint(QWidget *window)
{
    if (s_active)
        window->installEventFilter(new FirstPaint(window));
}

void StallProbe::log(const QString &what, const Stats &s, const Sections &sections) const
{
    qCInfo(lcGui).noquote() << QStringLiteral("stall probe (%1): worst gap %2 ms, p99.9 %3 ms, "
                                              "p99 %4 ms, p50 %5 ms, %6 ticks of %7 ms")
                                   .arg(what)
                                   .arg(s.worstMs, 0, 'f', 1)
                                   .arg(s.p999Ms, 0, 'f', 1)
                                   .arg(s.p99Ms, 0, 'f', 1)
                                   .arg(s.p50Ms, 0, 'f', 1)
                                   .arg(s.ticks)
                                   .arg(m_intervalMs);
    QStringList parts;
    for (const auto &[name, section] : sections) {
        parts.append(QStringLiteral("%1 longest %2 ms, average %3 ms, %4 runs")
                         .arg(QString::fromLatin1(name))
                         .arg(double(section.longestNs) / 1e6, 0, 'f', 1)
                         .arg(double(section.totalNs) / 1e6 / double(section.runs), 0, 'f', 1)
                         .arg(section.runs));
    }
    if (!parts.isEmpty())
        qCInfo(lcGui).noquote() << QStringLiteral("stall probe (%1) sections: %2")
                                       .arg(what, parts.join(QStringLiteral("; ")));
}

} // namespace agmem
