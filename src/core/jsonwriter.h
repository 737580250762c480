#pragma once

#include "timestamp.h"

#include <QByteArray>
#include <QString>
#include <QStringView>

namespace agmem {

// Appends compact JSON to a byte buffer. QJsonDocument builds a whole tree first, which
// costs more than the answer itself for a pull with many facts; this writes straight
// into the answer.
class JsonWriter
{
public:
    explicit JsonWriter(QByteArray *out)
        : m_out(out)
    {}

    void beginObject()
    {
        separate();
        m_out->append('{');
        m_first = true;
    }
    void endObject()
    {
        m_out->append('}');
        m_first = false;
    }
    void beginArray()
    {
        separate();
        m_out->append('[');
        m_first = true;
    }
    void endArray()
    {
        m_out->append(']');
        m_first = false;
    }

    void key(QStringView name);
    void key(const char *latin1Name);
    void value(QStringView text);
    void value(const char *latin1Text);
    void value(qint64 number);
    void value(bool flag);
    // formatIsoTimestamp(instant) as a string.
    void timestamp(Instant instant);
    void null();
    // Inserts already-encoded JSON (an object or array from QJsonDocument).
    void raw(const QByteArray &json);

    // `text` as a JSON string (UTF-8). ASCII text is written straight into `out`; other text
    // goes through QString::toUtf8(), whatever that makes of lone surrogates.
    static void appendString(QByteArray *out, QStringView text);
    // formatIsoTimestamp(instant) as a JSON string, without a QString between.
    static void appendTimestamp(QByteArray *out, Instant instant);

private:
    void separate()
    {
        if (!m_first && !m_afterKey)
            m_out->append(',');
        m_first = false;
        m_afterKey = false;
    }

    QByteArray *m_out;
    bool m_first = true;
    bool m_afterKey = false;
};

} // namespace agmem
