#pragma once

#include <QByteArray>
#include <QElapsedTimer>
#include <QList>
#include <QObject>
#include <QPair>
#include <QString>
#include <QTimer>

#include <array>
#include <memory>

class QWidget;

namespace agmem {

// Measures how long the GUI thread's event loop goes without running a timer: a ~5 ms
// precise timer records the gap between its ticks (a gap well above 5 ms is a stall:
// the thread was busy). Logs the worst gap and percentiles every 10 s and when destroyed.
// SIGUSR1 starts the measurement afresh (bench/gui-stall.sh sends it when the load
// starts, so the window's start-up is not counted). A measurement for bench/gui-stall.sh,
// off unless AGMEM_GUI_STALL_PROBE=1.
class StallProbe : public QObject
{
    Q_OBJECT

public:
    struct Stats
    {
        qint64 ticks = 0;
        double worstMs = 0;
        double p50Ms = 0;
        double p99Ms = 0;
        double p999Ms = 0;
    };

    // Times a piece of GUI-thread work while a probe runs (a null check otherwise); the
    // reports give each section's longest and average run, to find what makes a stall.
    class Scope
    {
    public:
        explicit Scope(const char *name)
            : m_name(s_active ? name : nullptr)
        {
            if (m_name)
                m_timer.start();
        }
        ~Scope()
        {
            if (m_name && s_active)
                s_active->record(m_name, m_timer.nsecsElapsed());
        }
        Scope(const Scope &) = delete;
        Scope &operator=(const Scope &) = delete;

    private:
        const char *m_name;
        QElapsedTimer m_timer;
    };

    explicit StallProbe(int intervalMs = 5, QObject *parent = nullptr);
    ~StallProbe() override;

    // A probe when AGMEM_GUI_STALL_PROBE=1, else nullptr.
    static std::unique_ptr<StallProbe> fromEnvironment();
    // Bench runs: AGMEM_GUI_TAB=agents|topics|facts|activity|keys|share shows that tab.
    static void showTabFromEnvironment(QWidget *window);

    Stats total() const { return m_total.stats(); }
    // Logs a moment for bench/gui-stall.sh ("stall probe mark: NAME at EPOCH_MS") while a
    // probe runs: the window first painted, the first snapshot shown, the database banner.
    static void mark(const char *name);
    // Marks "window shown" at the window's first paint.
    static void markFirstPaint(QWidget *window);

private:
    // Gaps in 0.1 ms steps up to 2 s (beyond: the last bucket; the worst is kept exactly).
    class Histogram
    {
    public:
        void add(qint64 gapNs);
        Stats stats() const;
        void clear() { *this = Histogram(); }

    private:
        static constexpr int Buckets = 20000;
        std::array<quint32, Buckets> m_counts{};
        qint64 m_ticks = 0;
        qint64 m_worstNs = 0;
    };

    struct Section
    {
        qint64 runs = 0;
        qint64 totalNs = 0;
        qint64 longestNs = 0;
    };
    using Sections = QList<QPair<QByteArray, Section>>;

    void record(const char *name, qint64 ns);
    void tick();
    void restart();
    void listenForRestart();
    void log(const QString &what, const Stats &stats, const Sections &sections) const;

    static inline StallProbe *s_active = nullptr;

    QTimer m_timer;
    QTimer m_reportTimer;
    QElapsedTimer m_clock;
    qint64 m_lastNs = -1;
    Histogram m_window;
    Histogram m_total;
    Sections m_windowSections;
    Sections m_totalSections;
    int m_intervalMs;
};

} // namespace agmem
