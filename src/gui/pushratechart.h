#pragma once

#include "core/timestamp.h"
#include "store/store.h"

#include <QTimer>
#include <QWidget>

#include <array>
#include <functional>

namespace agmem {

// Pushes per minute over the last hour, kept from samples of the store's push total (which
// counts the pushes of every instance on the database, not only this one's). No widgets:
// PushRateChart paints it. Slot 0 is the oldest minute, slot Minutes - 1 the current one.
class PushRateSeries
{
public:
    static constexpr int Minutes = 60;
    static constexpr Instant MinuteUs = 60'000'000;
    using Clock = std::function<Instant()>;

    // `clock` (tests): the current time; nowInstant() when empty.
    explicit PushRateSeries(Clock clock = {});

    // Moves the window on to the current minute (idle minutes count zero); true when it
    // moved.
    bool advance();
    // A new value of the push total: the increase since the last sample counts for the
    // current minute. The first sample, and the first from another database, only set the
    // baseline; a decrease (the database was reset) counts nothing and sets a new one.
    void sample(qint64 totalPushes, const QString &databaseId = {});
    // Counts read from the history (Store::pushesPerMinute) replace those of their minutes;
    // minutes outside the window are ignored. The minutes before `knownFrom` were not read
    // (too many pushes to read at start): known() is false for them.
    void seed(const QList<Store::MinuteCount> &minutes, Instant knownFrom = 0);
    bool known(int slot) const { return minuteStart(slot) >= m_knownFrom; }

    qint64 count(int slot) const { return m_counts.at(size_t(slot)); }
    // The start of a slot's minute.
    Instant minuteStart(int slot) const { return (m_minute - (Minutes - 1) + slot) * MinuteUs; }
    // The start of the oldest minute in the window.
    Instant windowStart() const { return minuteStart(0); }
    qint64 current() const { return count(Minutes - 1); }
    qint64 total() const;
    qint64 peak() const;
    Instant now() const;

private:
    Clock m_clock;
    std::array<qint64, Minutes> m_counts{};
    qint64 m_minute = 0; // the current minute, in minutes since the epoch
    qint64 m_last = 0;
    QString m_databaseId;
    bool m_hasBaseline = false;
    Instant m_knownFrom = 0;
};

// A small bar chart of pushes per minute over the last hour: 60 one-minute bars, the
// current one on the right, a rounded scale, the current minute's count and the hour's
// total in the caption, a tooltip per bar. Painted with palette colors and sized by the
// font, so it follows dark themes and scaling.
class PushRateChart : public QWidget
{
    Q_OBJECT

public:
    explicit PushRateChart(QWidget *parent = nullptr);

    // After each refresh of the window's reader: `minutes` (read in the same snapshot as
    // `state`, when seedSince() asked for it) seeds the last hour, every call samples the
    // push total.
    void feed(const StoreState &state, const std::optional<Store::PushMinutes> &minutes = {});
    // Where the reader's next refresh should start reading the history for the seed; 0
    // once seeded.
    Instant seedSince() const;
    static constexpr qint64 MaxSeedRows = 500'000;
    // Asks for refresh() every few seconds as well as at each new minute (on PostgreSQL,
    // other instances' pushes send no signal to this window).
    void setPolling(bool on);
    // Tests: another clock (before the first feed).
    void setClock(PushRateSeries::Clock clock);
    const PushRateSeries &series() const { return m_series; }
    // The history of the last hour has been read.
    bool seeded() const { return m_seeded; }
    // The slot under a point, -1 when none.
    int slotAt(const QPoint &pos) const;
    QString toolTipFor(int slot) const;
    QString caption() const;

    QSize sizeHint() const override;
    QSize minimumSizeHint() const override;

    // The largest value of the scale for a peak: 1, 2 or 5 times a power of ten.
    static qint64 niceCeiling(qint64 peak);

Q_SIGNALS:
    // Time to read the store again (the minute rolled over, or polling).
    void refreshDue();

protected:
    void paintEvent(QPaintEvent *event) override;
    bool event(QEvent *event) override;
    void mouseMoveEvent(QMouseEvent *event) override;
    void leaveEvent(QEvent *event) override;
    void changeEvent(QEvent *event) override;

private:
    struct Layout
    {
        QRectF caption;
        QRectF plot; // the bars' area
        QRectF axis; // the x labels under it
        qreal labelWidth = 0;
    };
    Layout layout() const;
    // A slot's left and right edges, on device pixels.
    QPair<qreal, qreal> slotEdges(const QRectF &plot, int slot) const;
    void onTick();
    void armTimer();
    void changed();

    PushRateSeries m_series;
    QTimer m_timer;
    bool m_seeded = false;
    bool m_polling = false;
    int m_hovered = -1;
};

} // namespace agmem
