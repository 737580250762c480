<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="es">
<context>
    <name>ExportDialog</name>
    <message>
        <source>Export</source>
        <translation>Exportar</translation>
    </message>
    <message>
        <source>&amp;What:</source>
        <translation>&amp;Contenido:</translation>
    </message>
    <message>
        <source>What to export</source>
        <translation>Qué exportar</translation>
    </message>
    <message>
        <source>&amp;Format:</source>
        <translation>&amp;Formato:</translation>
    </message>
    <message>
        <source>File format</source>
        <translation>Formato de archivo</translation>
    </message>
    <message>
        <source>F&amp;ile:</source>
        <translation>&amp;Archivo:</translation>
    </message>
    <message>
        <source>File to export to</source>
        <translation>Archivo de destino</translation>
    </message>
    <message>
        <source>Choose the file</source>
        <translation>Elegir el archivo</translation>
    </message>
    <message>
        <source>&amp;Browse…</source>
        <translation>Exa&amp;minar…</translation>
    </message>
    <message>
        <source>Export progress</source>
        <translation>Progreso de la exportación</translation>
    </message>
    <message>
        <source>Export status</source>
        <translation>Estado de la exportación</translation>
    </message>
    <message>
        <source>&amp;Export</source>
        <translation>&amp;Exportar</translation>
    </message>
    <message>
        <source>Stop the export; no file is written</source>
        <translation>Detener la exportación; no se escribe ningún archivo</translation>
    </message>
    <message>
        <source>&amp;Cancel export</source>
        <translation>Ca&amp;ncelar exportación</translation>
    </message>
    <message>
        <source>C&amp;lose</source>
        <translation>Ce&amp;rrar</translation>
    </message>
</context>
<context>
    <name>KeysPage</name>
    <message>
        <source>New key</source>
        <translation>Nueva clave</translation>
    </message>
    <message>
        <source>&amp;Name:</source>
        <translation>&amp;Nombre:</translation>
    </message>
    <message>
        <source>Name of the new key</source>
        <translation>Nombre de la nueva clave</translation>
    </message>
    <message>
        <source>e.g. laptop of Ada</source>
        <translation>p. ej. portátil de Ada</translation>
    </message>
    <message>
        <source>Scopes:</source>
        <translation>Permisos:</translation>
    </message>
    <message>
        <source>May push summaries</source>
        <translation>Puede enviar resúmenes</translation>
    </message>
    <message>
        <source>May pull the merged view</source>
        <translation>Puede obtener la vista combinada</translation>
    </message>
    <message>
        <source>May reset the coordinator and delete agents</source>
        <translation>Puede reiniciar el coordinador y borrar agentes</translation>
    </message>
    <message>
        <source>C&amp;reate key</source>
        <translation>C&amp;rear clave</translation>
    </message>
    <message>
        <source>Copy the new key now: it is shown only this once.</source>
        <translation>Copie la nueva clave ahora: solo se muestra esta vez.</translation>
    </message>
    <message>
        <source>The new key</source>
        <translation>La nueva clave</translation>
    </message>
    <message>
        <source>Copy the new key</source>
        <translation>Copiar la nueva clave</translation>
    </message>
    <message>
        <source>&amp;Copy</source>
        <translation>&amp;Copiar</translation>
    </message>
    <message>
        <source>Hide the new key</source>
        <translation>Ocultar la nueva clave</translation>
    </message>
    <message>
        <source>&amp;Done</source>
        <translation>&amp;Hecho</translation>
    </message>
    <message>
        <source>API keys</source>
        <translation>Claves de API</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>Nombre</translation>
    </message>
    <message>
        <source>Key starts with</source>
        <translation>La clave empieza por</translation>
    </message>
    <message>
        <source>Scopes</source>
        <translation>Permisos</translation>
    </message>
    <message>
        <source>Created</source>
        <translation>Creada</translation>
    </message>
    <message>
        <source>Last used</source>
        <translation>Último uso</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>Estado</translation>
    </message>
    <message>
        <source>Revoke the selected key</source>
        <translation>Revocar la clave seleccionada</translation>
    </message>
    <message>
        <source>Re&amp;voke…</source>
        <translation>Re&amp;vocar…</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>agmem Coordinator</source>
        <translation>Coordinador agmem</translation>
    </message>
    <message>
        <source>Security warning</source>
        <translation>Advertencia de seguridad</translation>
    </message>
    <message>
        <source>The coordinator is reachable from the network and requires no API key: anyone who can reach this computer can push, pull and fill the database. Create a key on the API keys page.</source>
        <translation>El coordinador es accesible desde la red y no exige clave de API: cualquiera que llegue a este equipo puede enviar, obtener y llenar la base de datos. Cree una clave en la pestaña Claves de API.</translation>
    </message>
    <message>
        <source>Server</source>
        <translation>Servidor</translation>
    </message>
    <message>
        <source>Server state</source>
        <translation>Estado del servidor</translation>
    </message>
    <message>
        <source>Stopped</source>
        <translation>Detenido</translation>
    </message>
    <message>
        <source>Server address</source>
        <translation>Dirección del servidor</translation>
    </message>
    <message>
        <source>&amp;Host:</source>
        <translation>&amp;Host:</translation>
    </message>
    <message>
        <source>Host address to listen on</source>
        <translation>Dirección en la que escuchar</translation>
    </message>
    <message>
        <source>&amp;Port:</source>
        <translation>&amp;Puerto:</translation>
    </message>
    <message>
        <source>Port to listen on</source>
        <translation>Puerto en el que escuchar</translation>
    </message>
    <message>
        <source>Start the server</source>
        <translation>Iniciar el servidor</translation>
    </message>
    <message>
        <source>&amp;Start</source>
        <translation>&amp;Iniciar</translation>
    </message>
    <message>
        <source>Stop the server</source>
        <translation>Detener el servidor</translation>
    </message>
    <message>
        <source>S&amp;top</source>
        <translation>&amp;Detener</translation>
    </message>
    <message>
        <source>Server error</source>
        <translation>Error del servidor</translation>
    </message>
    <message>
        <source>&amp;Agents</source>
        <translation>&amp;Agentes</translation>
    </message>
    <message>
        <source>Filter agents</source>
        <translation>Filtrar agentes</translation>
    </message>
    <message>
        <source>Filter agents by id…</source>
        <translation>Filtrar agentes por identificador…</translation>
    </message>
    <message>
        <source>Agents</source>
        <translation>Agentes</translation>
    </message>
    <message>
        <source>Select an agent to see its current summary.</source>
        <translation>Seleccione un agente para ver su resumen actual.</translation>
    </message>
    <message>
        <source>Topics of the selected agent</source>
        <translation>Temas del agente seleccionado</translation>
    </message>
    <message>
        <source>Topic</source>
        <translation>Tema</translation>
    </message>
    <message>
        <source>Count</source>
        <translation>Cantidad</translation>
    </message>
    <message>
        <source>Facts of the selected agent</source>
        <translation>Hechos del agente seleccionado</translation>
    </message>
    <message>
        <source>Push history of the selected agent</source>
        <translation>Historial de envíos del agente seleccionado</translation>
    </message>
    <message>
        <source>Received</source>
        <translation>Recibido</translation>
    </message>
    <message>
        <source>Summary time</source>
        <translation>Hora del resumen</translation>
    </message>
    <message>
        <source>Source</source>
        <translation>Origen</translation>
    </message>
    <message>
        <source>Topics</source>
        <translation>Temas</translation>
    </message>
    <message>
        <source>Facts</source>
        <translation>Hechos</translation>
    </message>
    <message>
        <source>T&amp;opics</source>
        <translation>&amp;Temas</translation>
    </message>
    <message>
        <source>Filter topics</source>
        <translation>Filtrar temas</translation>
    </message>
    <message>
        <source>Filter topics…</source>
        <translation>Filtrar temas…</translation>
    </message>
    <message>
        <source>Merged topic counts</source>
        <translation>Recuentos combinados por tema</translation>
    </message>
    <message>
        <source>Select a topic to see which agents report it.</source>
        <translation>Seleccione un tema para ver qué agentes lo informan.</translation>
    </message>
    <message>
        <source>Agents reporting the selected topic</source>
        <translation>Agentes que informan el tema seleccionado</translation>
    </message>
    <message>
        <source>Agent</source>
        <translation>Agente</translation>
    </message>
    <message>
        <source>&amp;Facts</source>
        <translation>&amp;Hechos</translation>
    </message>
    <message>
        <source>Filter facts</source>
        <translation>Filtrar hechos</translation>
    </message>
    <message>
        <source>Filter facts…</source>
        <translation>Filtrar hechos…</translation>
    </message>
    <message>
        <source>Unique facts</source>
        <translation>Hechos únicos</translation>
    </message>
    <message>
        <source>A&amp;ctivity</source>
        <translation>A&amp;ctividad</translation>
    </message>
    <message>
        <source>Pause the activity list</source>
        <translation>Pausar la lista de actividad</translation>
    </message>
    <message>
        <source>&amp;Pause</source>
        <translation>&amp;Pausar</translation>
    </message>
    <message>
        <source>Clear the activity list</source>
        <translation>Vaciar la lista de actividad</translation>
    </message>
    <message>
        <source>C&amp;lear</source>
        <translation>&amp;Vaciar</translation>
    </message>
    <message>
        <source>Latest requests</source>
        <translation>Últimas solicitudes</translation>
    </message>
    <message>
        <source>S&amp;hare with the team</source>
        <translation>Co&amp;mpartir con el equipo</translation>
    </message>
    <message>
        <source>Share with the team</source>
        <translation>Compartir con el equipo</translation>
    </message>
    <message>
        <source>Share with the team: listen on every network interface</source>
        <translation>Compartir con el equipo: escuchar en todas las interfaces de red</translation>
    </message>
    <message>
        <source>Off, the coordinator only answers programs on this computer. On, agents on other machines can reach it; give them an API key so nobody else can.</source>
        <translation>Desactivado, el coordinador solo responde a programas de este equipo. Activado, los agentes de otras máquinas pueden alcanzarlo; deles una clave de API para que nadie más pueda.</translation>
    </message>
    <message>
        <source>Create a &amp;key for the team…</source>
        <translation>Crear una &amp;clave para el equipo…</translation>
    </message>
    <message>
        <source>Paste this into &lt;code&gt;.mem/config.yaml&lt;/code&gt; of each agmem client:</source>
        <translation>Pegue esto en el &lt;code&gt;.mem/config.yaml&lt;/code&gt; de cada cliente agmem:</translation>
    </message>
    <message>
        <source>Client configuration snippet</source>
        <translation>Fragmento de configuración del cliente</translation>
    </message>
    <message>
        <source>Copy the configuration snippet</source>
        <translation>Copiar el fragmento de configuración</translation>
    </message>
    <message>
        <source>&amp;Copy</source>
        <translation>&amp;Copiar</translation>
    </message>
    <message>
        <source>&amp;File</source>
        <translation>&amp;Archivo</translation>
    </message>
    <message>
        <source>&amp;Server</source>
        <translation>&amp;Servidor</translation>
    </message>
    <message>
        <source>&amp;Help</source>
        <translation>A&amp;yuda</translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation>&amp;Salir</translation>
    </message>
    <message>
        <source>&amp;Copy address</source>
        <translation>&amp;Copiar dirección</translation>
    </message>
    <message>
        <source>&amp;About agmem Coordinator</source>
        <translation>&amp;Acerca del coordinador agmem</translation>
    </message>
    <message>
        <source>&amp;Export…</source>
        <translation>&amp;Exportar…</translation>
    </message>
    <message>
        <source>Export the merged view, the agents or the history as JSON or CSV</source>
        <translation>Exportar la vista combinada, los agentes o el historial en JSON o CSV</translation>
    </message>
    <message>
        <source>&amp;Settings…</source>
        <translation>&amp;Configuración…</translation>
    </message>
    <message>
        <source>Host, port, merge mode, durability, limits, TLS and database location</source>
        <translation>Host, puerto, modo de combinación, durabilidad, límites, TLS y ubicación de la base de datos</translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <source>Settings</source>
        <translation>Configuración</translation>
    </message>
    <message>
        <source>Settings overridden for this run</source>
        <translation>Valores anulados en esta ejecución</translation>
    </message>
    <message>
        <source>&amp;Server</source>
        <translation>&amp;Servidor</translation>
    </message>
    <message>
        <source>&amp;Host:</source>
        <translation>&amp;Host:</translation>
    </message>
    <message>
        <source>Host address to listen on</source>
        <translation>Dirección en la que escuchar</translation>
    </message>
    <message>
        <source>Address to listen on. Anything but loopback exposes the coordinator to the network.</source>
        <translation>Dirección en la que escuchar. Cualquiera que no sea de bucle local (loopback) expone el coordinador a la red.</translation>
    </message>
    <message>
        <source>Host address check</source>
        <translation>Comprobación de la dirección</translation>
    </message>
    <message>
        <source>&amp;Port:</source>
        <translation>&amp;Puerto:</translation>
    </message>
    <message>
        <source>Port to listen on</source>
        <translation>Puerto en el que escuchar</translation>
    </message>
    <message>
        <source>TCP port to listen on; 0 picks a free one.</source>
        <translation>Puerto TCP en el que escuchar; 0 elige uno libre.</translation>
    </message>
    <message>
        <source>Any free port</source>
        <translation>Cualquier puerto libre</translation>
    </message>
    <message>
        <source>Start serving when the app starts</source>
        <translation>Iniciar el servidor al abrir la aplicación</translation>
    </message>
    <message>
        <source>Start serving when the app sta&amp;rts</source>
        <translation>Iniciar el servidor al a&amp;brir la aplicación</translation>
    </message>
    <message>
        <source>Takes effect the next time the app starts. Without it, press Start in the window.</source>
        <translation>Se aplica la próxima vez que se abra la aplicación. Si no está marcada, pulse Iniciar en la ventana.</translation>
    </message>
    <message>
        <source>Host and port take effect when the server restarts. If it is running when you press OK or Apply, you are asked whether to restart it now.</source>
        <translation>El host y el puerto se aplican cuando se reinicia el servidor. Si está en marcha al pulsar Aceptar o Aplicar, se preguntará si reiniciarlo ahora.</translation>
    </message>
    <message>
        <source>When server settings take effect</source>
        <translation>Cuándo se aplica la configuración del servidor</translation>
    </message>
    <message>
        <source>&amp;Merge &amp;&amp; storage</source>
        <translation>Co&amp;mbinación y almacenamiento</translation>
    </message>
    <message>
        <source>Merge mode</source>
        <translation>Modo de combinación</translation>
    </message>
    <message>
        <source>Merge mode latest</source>
        <translation>Modo de combinación: más reciente</translation>
    </message>
    <message>
        <source>Lat&amp;est</source>
        <translation>Más &amp;reciente</translation>
    </message>
    <message>
        <source>Each agent&apos;s newest summary counts once; an older or repeated push changes nothing.</source>
        <translation>El resumen más reciente de cada agente cuenta una sola vez; un envío más antiguo o repetido no cambia nada.</translation>
    </message>
    <message>
        <source>Merge mode cumulative</source>
        <translation>Modo de combinación: acumulativo</translation>
    </message>
    <message>
        <source>C&amp;umulative</source>
        <translation>Ac&amp;umulativo</translation>
    </message>
    <message>
        <source>Every accepted push is added up, exactly like the reference server.</source>
        <translation>Se suman todos los envíos aceptados, exactamente como en el servidor de referencia.</translation>
    </message>
    <message>
        <source>Durability</source>
        <translation>Durabilidad</translation>
    </message>
    <message>
        <source>Durability full</source>
        <translation>Durabilidad: completa</translation>
    </message>
    <message>
        <source>&amp;Full</source>
        <translation>&amp;Completa</translation>
    </message>
    <message>
        <source>A confirmed push survives a power loss.</source>
        <translation>Un envío confirmado sobrevive a un corte de corriente.</translation>
    </message>
    <message>
        <source>Durability normal</source>
        <translation>Durabilidad: normal</translation>
    </message>
    <message>
        <source>&amp;Normal</source>
        <translation>&amp;Normal</translation>
    </message>
    <message>
        <source>Faster: survives a crash of the coordinator, but not of the machine.</source>
        <translation>Más rápida: sobrevive a un fallo del coordinador, pero no de la máquina.</translation>
    </message>
    <message>
        <source>Merge mode and durability take effect when the server restarts; a new merge mode is recomputed from the stored history.</source>
        <translation>El modo de combinación y la durabilidad se aplican cuando se reinicia el servidor; con un modo de combinación nuevo, todo se recalcula a partir del historial almacenado.</translation>
    </message>
    <message>
        <source>When merge mode and durability take effect</source>
        <translation>Cuándo se aplican el modo de combinación y la durabilidad</translation>
    </message>
    <message>
        <source>Database</source>
        <translation>Base de datos</translation>
    </message>
    <message>
        <source>Data&amp;base:</source>
        <translation>&amp;Base de datos:</translation>
    </message>
    <message>
        <source>Database location</source>
        <translation>Ubicación de la base de datos</translation>
    </message>
    <message>
        <source>A SQLite file, sqlite:///path/file.db, :memory: (throwaway) or postgresql://user:password@host:5432/database.</source>
        <translation>Un archivo SQLite, sqlite:///path/file.db, :memory: (desechable) o postgresql://user:password@host:5432/database.</translation>
    </message>
    <message>
        <source>Default: a SQLite file in the app-data folder</source>
        <translation>Predeterminado: un archivo SQLite en la carpeta de datos de la aplicación</translation>
    </message>
    <message>
        <source>Choose a SQLite database file</source>
        <translation>Elegir un archivo de base de datos SQLite</translation>
    </message>
    <message>
        <source>Bro&amp;wse…</source>
        <translation>E&amp;xaminar…</translation>
    </message>
    <message>
        <source>Database location check</source>
        <translation>Comprobación de la ubicación de la base de datos</translation>
    </message>
    <message>
        <source>A SQLite file, or postgresql://user:password@host:5432/database. Empty: the default.</source>
        <translation>Un archivo SQLite o postgresql://user:password@host:5432/database. Vacío: el predeterminado.</translation>
    </message>
    <message>
        <source>Takes effect when the app restarts: the window reads this database too.</source>
        <translation>Se aplica al reiniciar la aplicación: la ventana también lee esta base de datos.</translation>
    </message>
    <message>
        <source>When the database location takes effect</source>
        <translation>Cuándo se aplica la ubicación de la base de datos</translation>
    </message>
    <message>
        <source>&amp;Limits</source>
        <translation>&amp;Límites</translation>
    </message>
    <message>
        <source>Each push</source>
        <translation>Cada envío</translation>
    </message>
    <message>
        <source>Largest request &amp;body:</source>
        <translation>Tamaño máximo del &amp;cuerpo:</translation>
    </message>
    <message>
        <source>Largest request body in bytes</source>
        <translation>Tamaño máximo del cuerpo de la solicitud en bytes</translation>
    </message>
    <message>
        <source>Largest request body accepted (else 413).</source>
        <translation>Tamaño máximo aceptado del cuerpo de la solicitud (si se supera, 413).</translation>
    </message>
    <message>
        <source> bytes</source>
        <translation> bytes</translation>
    </message>
    <message>
        <source>Longest agent &amp;ID:</source>
        <translation>Longitud máxima del &amp;ID de agente:</translation>
    </message>
    <message>
        <source>Longest agent ID in characters</source>
        <translation>Longitud máxima del ID de agente en caracteres</translation>
    </message>
    <message>
        <source>Longest agent_id accepted.</source>
        <translation>Longitud máxima aceptada de agent_id.</translation>
    </message>
    <message>
        <source> characters</source>
        <translation> caracteres</translation>
    </message>
    <message>
        <source>Most to&amp;pics:</source>
        <translation>Máximo de t&amp;emas:</translation>
    </message>
    <message>
        <source>Most topics in one summary</source>
        <translation>Máximo de temas en un resumen</translation>
    </message>
    <message>
        <source>Most topics in one summary.</source>
        <translation>Máximo de temas en un resumen.</translation>
    </message>
    <message>
        <source>Longest topic &amp;name:</source>
        <translation>Longitud máxima del &amp;nombre de tema:</translation>
    </message>
    <message>
        <source>Longest topic name in characters</source>
        <translation>Longitud máxima del nombre de tema en caracteres</translation>
    </message>
    <message>
        <source>Longest topic name.</source>
        <translation>Longitud máxima del nombre de un tema.</translation>
    </message>
    <message>
        <source>Most &amp;facts:</source>
        <translation>Máximo de &amp;hechos:</translation>
    </message>
    <message>
        <source>Most fact hashes in one summary</source>
        <translation>Máximo de hashes de hechos en un resumen</translation>
    </message>
    <message>
        <source>Most fact hashes in one summary.</source>
        <translation>Máximo de hashes de hechos en un resumen.</translation>
    </message>
    <message>
        <source>Longest fact &amp;hash:</source>
        <translation>Lon&amp;gitud máxima del hash de hecho:</translation>
    </message>
    <message>
        <source>Longest fact hash or label in characters</source>
        <translation>Longitud máxima del hash o la etiqueta de un hecho en caracteres</translation>
    </message>
    <message>
        <source>Longest fact hash or label.</source>
        <translation>Longitud máxima del hash o la etiqueta de un hecho.</translation>
    </message>
    <message>
        <source>Lar&amp;gest metadata:</source>
        <translation>Tamaño má&amp;ximo de metadatos:</translation>
    </message>
    <message>
        <source>Largest metadata object in bytes</source>
        <translation>Tamaño máximo del objeto de metadatos en bytes</translation>
    </message>
    <message>
        <source>Largest metadata object (as compact JSON).</source>
        <translation>Tamaño máximo del objeto de metadatos (como JSON compacto).</translation>
    </message>
    <message>
        <source>Connections</source>
        <translation>Conexiones</translation>
    </message>
    <message>
        <source>Most open conn&amp;ections:</source>
        <translation>Máximo de c&amp;onexiones abiertas:</translation>
    </message>
    <message>
        <source>Most open connections</source>
        <translation>Máximo de conexiones abiertas</translation>
    </message>
    <message>
        <source>Open connections at most; more are answered 503.</source>
        <translation>Máximo de conexiones abiertas; a las que sobran se responde con 503.</translation>
    </message>
    <message>
        <source>Idle timeo&amp;ut:</source>
        <translation>Tiem&amp;po de inactividad:</translation>
    </message>
    <message>
        <source>Idle timeout in seconds</source>
        <translation>Tiempo de inactividad en segundos</translation>
    </message>
    <message>
        <source>A keep-alive connection with no request is closed after this long.</source>
        <translation>Una conexión keep-alive sin solicitudes se cierra pasado este tiempo.</translation>
    </message>
    <message>
        <source> s</source>
        <translation> s</translation>
    </message>
    <message>
        <source>&amp;Read timeout:</source>
        <translation>Tiempo de espera de lect&amp;ura:</translation>
    </message>
    <message>
        <source>Read timeout in seconds</source>
        <translation>Tiempo de espera de lectura en segundos</translation>
    </message>
    <message>
        <source>A request must arrive whole within this long (else 408).</source>
        <translation>Una solicitud debe llegar completa en este tiempo (si no, 408).</translation>
    </message>
    <message>
        <source>Largest re&amp;quest head:</source>
        <translation>Tamaño máximo de la ca&amp;becera:</translation>
    </message>
    <message>
        <source>Largest request head in bytes</source>
        <translation>Tamaño máximo de la cabecera de la solicitud en bytes</translation>
    </message>
    <message>
        <source>Largest request line plus headers (else 431).</source>
        <translation>Tamaño máximo de la línea de solicitud más las cabeceras (si se supera, 431).</translation>
    </message>
    <message>
        <source>Rate limit per &amp;key:</source>
        <translation>Límite de frecuencia por cla&amp;ve:</translation>
    </message>
    <message>
        <source>Rate limit in requests per second</source>
        <translation>Límite de frecuencia en solicitudes por segundo</translation>
    </message>
    <message>
        <source>Requests per second per API key (per address without a key), bursts of twice as many; 0 turns it off.</source>
        <translation>Solicitudes por segundo por clave de API (por dirección si no hay clave), con ráfagas del doble; 0 lo desactiva.</translation>
    </message>
    <message>
        <source> requests/s</source>
        <translation> solicitudes/s</translation>
    </message>
    <message>
        <source>Off</source>
        <translation>Desactivado</translation>
    </message>
    <message>
        <source>Limits take effect when the server restarts.</source>
        <translation>Los límites se aplican cuando se reinicia el servidor.</translation>
    </message>
    <message>
        <source>When limits take effect</source>
        <translation>Cuándo se aplican los límites</translation>
    </message>
    <message>
        <source>&amp;TLS</source>
        <translation>&amp;TLS</translation>
    </message>
    <message>
        <source>Cert&amp;ificate:</source>
        <translation>Cert&amp;ificado:</translation>
    </message>
    <message>
        <source>TLS certificate file</source>
        <translation>Archivo del certificado TLS</translation>
    </message>
    <message>
        <source>Serve HTTPS with this certificate (chain), a PEM file.</source>
        <translation>Servir HTTPS con este certificado (o cadena), un archivo PEM.</translation>
    </message>
    <message>
        <source>Choose the certificate file</source>
        <translation>Elegir el archivo del certificado</translation>
    </message>
    <message>
        <source>&amp;Browse…</source>
        <translation>&amp;Examinar…</translation>
    </message>
    <message>
        <source>Private &amp;key:</source>
        <translation>&amp;Clave privada:</translation>
    </message>
    <message>
        <source>TLS private key file</source>
        <translation>Archivo de la clave privada TLS</translation>
    </message>
    <message>
        <source>The certificate&apos;s unencrypted private key, a PEM file.</source>
        <translation>La clave privada sin cifrar del certificado, un archivo PEM.</translation>
    </message>
    <message>
        <source>Choose the private key file</source>
        <translation>Elegir el archivo de la clave privada</translation>
    </message>
    <message>
        <source>TLS files check</source>
        <translation>Comprobación de los archivos TLS</translation>
    </message>
    <message>
        <source>Both files or neither. With both, the server answers HTTPS only; the agmem clients then need an https:// coordinator_url. Takes effect when the server restarts.</source>
        <translation>Los dos archivos o ninguno. Con ambos, el servidor solo responde por HTTPS; los clientes agmem necesitan entonces un coordinator_url con https://. Se aplica cuando se reinicia el servidor.</translation>
    </message>
    <message>
        <source>When TLS takes effect</source>
        <translation>Cuándo se aplica TLS</translation>
    </message>
</context>
<context>
    <name>agmem::ActivityModel</name>
    <message>
        <source>(refused before reading)</source>
        <translation>(rechazada antes de leerla)</translation>
    </message>
    <message>
        <source>merged</source>
        <translation>combinado</translation>
    </message>
    <message>
        <source>accepted, merge unchanged (repeated or older summary)</source>
        <translation>aceptado, combinación sin cambios (resumen repetido o más antiguo)</translation>
    </message>
    <message>
        <source>Time</source>
        <translation>Hora</translation>
    </message>
    <message>
        <source>Agent</source>
        <translation>Agente</translation>
    </message>
    <message>
        <source>Request</source>
        <translation>Solicitud</translation>
    </message>
    <message>
        <source>Source</source>
        <translation>Origen</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>Estado</translation>
    </message>
    <message>
        <source>Result</source>
        <translation>Resultado</translation>
    </message>
</context>
<context>
    <name>agmem::AgentsModel</name>
    <message>
        <source>Agent</source>
        <translation>Agente</translation>
    </message>
    <message>
        <source>First seen</source>
        <translation>Visto por primera vez</translation>
    </message>
    <message>
        <source>Last seen</source>
        <translation>Visto por última vez</translation>
    </message>
    <message>
        <source>Pushes</source>
        <translation>Envíos</translation>
    </message>
    <message>
        <source>Topics</source>
        <translation>Temas</translation>
    </message>
    <message>
        <source>Facts</source>
        <translation>Hechos</translation>
    </message>
</context>
<context>
    <name>agmem::ExportDialog</name>
    <message>
        <source>Merged view (as /pull answers it)</source>
        <translation>Vista combinada (tal como la devuelve /pull)</translation>
    </message>
    <message>
        <source>Agents</source>
        <translation>Agentes</translation>
    </message>
    <message>
        <source>History (every push)</source>
        <translation>Historial (todos los envíos)</translation>
    </message>
    <message>
        <source>JSON</source>
        <translation>JSON</translation>
    </message>
    <message>
        <source>CSV</source>
        <translation>CSV</translation>
    </message>
    <message>
        <source>Exactly the answer of GET /pull: merged topic counts, unique facts, contributing agents.</source>
        <translation>Exactamente la respuesta de GET /pull: recuentos combinados por tema, hechos únicos y agentes que contribuyen.</translation>
    </message>
    <message>
        <source>One table: kind (topic or fact), name, count (merged count of a topic, number of agents holding a fact).</source>
        <translation>Una tabla: tipo (tema o hecho), nombre, cantidad (total combinado de un tema, número de agentes que tienen un hecho).</translation>
    </message>
    <message>
        <source>Per agent: id, first and last seen (UTC), pushes, topics and facts of its current summary.</source>
        <translation>Por agente: identificador, primera y última vez visto (UTC), envíos, temas y hechos de su resumen actual.</translation>
    </message>
    <message>
        <source>JSON lines: one push per line, oldest first, with its topic counts, facts and metadata.</source>
        <translation>JSON Lines: un envío por línea, del más antiguo al más reciente, con sus recuentos por tema, hechos y metadatos.</translation>
    </message>
    <message>
        <source>One row per push, oldest first: agent, timestamps, source and the numbers of its topics and facts.</source>
        <translation>Una fila por envío, del más antiguo al más reciente: agente, marcas de tiempo, origen y número de temas y de hechos.</translation>
    </message>
    <message>
        <source>Text starting with = + - or @ gets a leading apostrophe, so spreadsheets do not run it as a formula.</source>
        <translation>Al texto que empieza por = + - o @ se le antepone un apóstrofo para que las hojas de cálculo no lo ejecuten como fórmula.</translation>
    </message>
    <message>
        <source>CSV files (*.csv)</source>
        <translation>Archivos CSV (*.csv)</translation>
    </message>
    <message>
        <source>JSON lines (*.jsonl *.json)</source>
        <translation>JSON Lines (*.jsonl *.json)</translation>
    </message>
    <message>
        <source>JSON files (*.json)</source>
        <translation>Archivos JSON (*.json)</translation>
    </message>
    <message>
        <source>All files (*)</source>
        <translation>Todos los archivos (*)</translation>
    </message>
    <message>
        <source>Export to</source>
        <translation>Exportar a</translation>
    </message>
    <message>
        <source>Choose a file to export to.</source>
        <translation>Elija un archivo de destino.</translation>
    </message>
    <message>
        <source>Exporting…</source>
        <translation>Exportando…</translation>
    </message>
    <message>
        <source>Cancelling…</source>
        <translation>Cancelando…</translation>
    </message>
    <message>
        <source>Exporting… %1 of %2</source>
        <translation>Exportando… %1 de %2</translation>
    </message>
    <message>
        <source>Exported to %1. %2 · Bytes: %3</source>
        <translation>Exportado a %1. %2 · Bytes: %3</translation>
    </message>
    <message>
        <source>Export cancelled; no file was written.</source>
        <translation>Exportación cancelada; no se escribió ningún archivo.</translation>
    </message>
    <message>
        <source>Export failed: %1</source>
        <translation>Error al exportar: %1</translation>
    </message>
    <message>
        <source>Topics and facts: %1</source>
        <translation>Temas y hechos: %1</translation>
    </message>
    <message>
        <source>Agents: %1</source>
        <translation>Agentes: %1</translation>
    </message>
    <message>
        <source>Pushes: %1</source>
        <translation>Envíos: %1</translation>
    </message>
</context>
<context>
    <name>agmem::FactsModel</name>
    <message>
        <source>Fact</source>
        <translation>Hecho</translation>
    </message>
    <message>
        <source>Agents holding it</source>
        <translation>Agentes que lo tienen</translation>
    </message>
</context>
<context>
    <name>agmem::KeysPage</name>
    <message>
        <source>The key is on the clipboard.</source>
        <translation>La clave está en el portapapeles.</translation>
    </message>
    <message>
        <source>Cannot read the keys: %1</source>
        <translation>No se pueden leer las claves: %1</translation>
    </message>
    <message>
        <source>never</source>
        <translation>nunca</translation>
    </message>
    <message>
        <source>active</source>
        <translation>activa</translation>
    </message>
    <message>
        <source>revoked %1</source>
        <translation>revocada el %1</translation>
    </message>
    <message>
        <source>Cannot create the key: %1</source>
        <translation>No se puede crear la clave: %1</translation>
    </message>
    <message>
        <source>Key &quot;%1&quot; created.</source>
        <translation>Clave «%1» creada.</translation>
    </message>
    <message>
        <source>Give the key a name, so you know later who uses it.</source>
        <translation>Dé un nombre a la clave para saber después quién la usa.</translation>
    </message>
    <message>
        <source>Choose at least one scope.</source>
        <translation>Elija al menos un permiso.</translation>
    </message>
    <message>
        <source>Cannot revoke the key: %1</source>
        <translation>No se puede revocar la clave: %1</translation>
    </message>
    <message>
        <source>Key &quot;%1&quot; revoked.</source>
        <translation>Clave «%1» revocada.</translation>
    </message>
    <message>
        <source>Revoke key</source>
        <translation>Revocar clave</translation>
    </message>
    <message>
        <source>Revoke the key &quot;%1&quot; (%2)? Clients using it are refused within a few seconds. This cannot be undone.</source>
        <translation>¿Revocar la clave «%1» (%2)? Los clientes que la usan serán rechazados en pocos segundos. No se puede deshacer.</translation>
    </message>
    <message>
        <source>Revoke</source>
        <translation>Revocar</translation>
    </message>
</context>
<context>
    <name>agmem::MainWindow</name>
    <message>
        <source>API &amp;keys</source>
        <translation>C&amp;laves de API</translation>
    </message>
    <message>
        <source>Snippet copied to the clipboard.</source>
        <translation>Fragmento copiado al portapapeles.</translation>
    </message>
    <message>
        <source>&amp;Resume</source>
        <translation>&amp;Reanudar</translation>
    </message>
    <message>
        <source>&amp;Pause</source>
        <translation>&amp;Pausar</translation>
    </message>
    <message>
        <source>Paused: new requests are held.</source>
        <translation>En pausa: las solicitudes nuevas se retienen.</translation>
    </message>
    <message>
        <source>&amp;Show</source>
        <translation>&amp;Mostrar</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>Cancelar</translation>
    </message>
    <message>
        <source>&quot;%1&quot; is not an IP address (use 127.0.0.1 for this computer only, 0.0.0.0 for every network interface).</source>
        <translation>«%1» no es una dirección IP (127.0.0.1 solo para este equipo, 0.0.0.0 para todas las interfaces de red).</translation>
    </message>
    <message>
        <source>Stopped</source>
        <translation>Detenido</translation>
    </message>
    <message>
        <source>Error</source>
        <translation>Error</translation>
    </message>
    <message>
        <source>Starting…</source>
        <translation>Iniciando…</translation>
    </message>
    <message>
        <source>Listening on</source>
        <translation>Escuchando en</translation>
    </message>
    <message>
        <source>Stopping…</source>
        <translation>Deteniendo…</translation>
    </message>
    <message>
        <source>Could not start: %1</source>
        <translation>No se pudo iniciar: %1</translation>
    </message>
    <message>
        <source>Listening on %1</source>
        <translation>Escuchando en %1</translation>
    </message>
    <message>
        <source>agmem Coordinator: %1</source>
        <translation>Coordinador agmem: %1</translation>
    </message>
    <message>
        <source>Includes the team key created in this session.</source>
        <translation>Incluye la clave del equipo creada en esta sesión.</translation>
    </message>
    <message>
        <source>Replace YOUR_KEY with a key that has the push and pull scopes.</source>
        <translation>Sustituya YOUR_KEY por una clave con los permisos push y pull.</translation>
    </message>
    <message>
        <source>The server is not running.</source>
        <translation>El servidor no está en marcha.</translation>
    </message>
    <message>
        <source>Share with the team</source>
        <translation>Compartir con el equipo</translation>
    </message>
    <message>
        <source>Listen on every network interface? Agents on other machines can then reach the coordinator; so can anyone else on the network unless an API key is required.</source>
        <translation>¿Escuchar en todas las interfaces de red? Los agentes de otras máquinas podrán alcanzar el coordinador, y también cualquiera en la red mientras no se exija una clave de API.</translation>
    </message>
    <message>
        <source>Share</source>
        <translation>Compartir</translation>
    </message>
    <message>
        <source>Create a key</source>
        <translation>Crear una clave</translation>
    </message>
    <message>
        <source>No API key with the push and pull scopes exists yet. Create one for the team now? The server then refuses requests without a key.</source>
        <translation>Aún no existe ninguna clave de API con los permisos push y pull. ¿Crear una para el equipo ahora? El servidor rechazará entonces las solicitudes sin clave.</translation>
    </message>
    <message>
        <source>Create key</source>
        <translation>Crear clave</translation>
    </message>
    <message>
        <source>team</source>
        <translation>equipo</translation>
    </message>
    <message>
        <source>Created the key &quot;team&quot; (push, pull); it is in the snippet below.</source>
        <translation>Clave «equipo» (push, pull) creada; está en el fragmento de abajo.</translation>
    </message>
    <message>
        <source>Select an agent to see its current summary.</source>
        <translation>Seleccione un agente para ver su resumen actual.</translation>
    </message>
    <message>
        <source>&lt;b&gt;%1&lt;/b&gt;&lt;br&gt;No current summary.</source>
        <translation>&lt;b&gt;%1&lt;/b&gt;&lt;br&gt;Sin resumen actual.</translation>
    </message>
    <message>
        <source>Select a topic to see which agents report it.</source>
        <translation>Seleccione un tema para ver qué agentes lo informan.</translation>
    </message>
    <message>
        <source>About agmem Coordinator</source>
        <translation>Acerca del coordinador agmem</translation>
    </message>
    <message>
        <source>&lt;h3&gt;agmem Coordinator %1&lt;/h3&gt;&lt;p&gt;Coordinator for agmem agent-memory federation: agents push summaries of their memory and pull the merged view of every agent.&lt;/p&gt;&lt;p&gt;Database: %2&lt;br&gt;Qt %3&lt;/p&gt;</source>
        <translation>&lt;h3&gt;Coordinador agmem %1&lt;/h3&gt;&lt;p&gt;Coordinador de la federación de memorias de agentes agmem: los agentes envían resúmenes de su memoria y obtienen la vista combinada de todos los agentes.&lt;/p&gt;&lt;p&gt;Base de datos: %2&lt;br&gt;Qt %3&lt;/p&gt;</translation>
    </message>
    <message>
        <source>Paused · new requests held: %1</source>
        <translation>En pausa · solicitudes nuevas retenidas: %1</translation>
    </message>
    <message>
        <source>… and %1 more</source>
        <translation>… y %1 más</translation>
    </message>
    <message>
        <source>&lt;b&gt;%1&lt;/b&gt; · agents reporting it: %2</source>
        <translation>&lt;b&gt;%1&lt;/b&gt; · agentes que lo informan: %2</translation>
    </message>
    <message>
        <source>Unique facts: %1</source>
        <translation>Hechos únicos: %1</translation>
    </message>
    <message>
        <source>Matching: %1 of %2 facts</source>
        <translation>Coincidencias: %1 de %2 hechos</translation>
    </message>
    <message>
        <source>Agents: %1 · Topics: %2 · Unique facts: %3 · Pushes in total: %4</source>
        <translation>Agentes: %1 · Temas: %2 · Hechos únicos: %3 · Envíos en total: %4</translation>
    </message>
    <message>
        <source>The new database location is used when the app restarts.</source>
        <translation>La nueva ubicación de la base de datos se usará al reiniciar la aplicación.</translation>
    </message>
    <message>
        <source>Restart the server?</source>
        <translation>¿Reiniciar el servidor?</translation>
    </message>
    <message>
        <source>The changed settings take effect when the server restarts. Restart it now? Open connections are closed; agents reach it again at their next push.</source>
        <translation>Los cambios de configuración se aplican cuando se reinicia el servidor. ¿Reiniciarlo ahora? Se cierran las conexiones abiertas; los agentes vuelven a conectarse en su próximo envío.</translation>
    </message>
    <message>
        <source>&amp;Restart</source>
        <translation>&amp;Reiniciar</translation>
    </message>
    <message>
        <source>The new settings apply when the server next starts.</source>
        <translation>La nueva configuración se aplicará la próxima vez que se inicie el servidor.</translation>
    </message>
    <message>
        <source>Totals</source>
        <translation>Totales</translation>
    </message>
    <message numerus="yes">
        <source>no answer for %n second(s)</source>
        <translation>
            <numerusform>sin respuesta desde hace %n segundo</numerusform>
            <numerusform>sin respuesta desde hace %n segundos</numerusform>
        </translation>
    </message>
    <message>
        <source>The database %1 cannot be reached since %2 (%3). The window shows what was read before and keeps trying.</source>
        <translation>No se puede acceder a la base de datos %1 desde las %2 (%3). La ventana muestra lo leído antes y sigue intentándolo.</translation>
    </message>
    <message>
        <source>Reading the database…</source>
        <translation>Leyendo la base de datos…</translation>
    </message>
    <message>
        <source>&lt;b&gt;%1&lt;/b&gt;&lt;br&gt;Reading the database…</source>
        <translation>&lt;b&gt;%1&lt;/b&gt;&lt;br&gt;Leyendo la base de datos…</translation>
    </message>
    <message>
        <source>&lt;b&gt;%1&lt;/b&gt;&lt;br&gt;Current summary from %2 · %3 · %4</source>
        <translation>&lt;b&gt;%1&lt;/b&gt;&lt;br&gt;Resumen actual del %2 · %3 · %4</translation>
    </message>
    <message numerus="yes">
        <source>%n topic(s)</source>
        <translation>
            <numerusform>%n tema</numerusform>
            <numerusform>%n temas</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n fact(s)</source>
        <translation>
            <numerusform>%n hecho</numerusform>
            <numerusform>%n hechos</numerusform>
        </translation>
    </message>
    <message>
        <source>Reading the history…</source>
        <translation>Leyendo el historial…</translation>
    </message>
    <message>
        <source>The history cannot be read: %1</source>
        <translation>No se puede leer el historial: %1</translation>
    </message>
</context>
<context>
    <name>agmem::PushRateChart</name>
    <message>
        <source>Pushes per minute, last hour: total %1, peak %2</source>
        <translation>Envíos por minuto, última hora: total %1, máximo %2</translation>
    </message>
    <message>
        <source>This minute: %1. Scale: 0 to %2 pushes per minute; bars from 60 minutes ago to now.</source>
        <translation>Este minuto: %1. Escala: de 0 a %2 envíos por minuto; barras desde hace 60 minutos hasta ahora.</translation>
    </message>
    <message>
        <source>This minute: %1 · Last hour: %2</source>
        <translation>Este minuto: %1 · Última hora: %2</translation>
    </message>
    <message>
        <source>%1–%2
Not read: too many pushes in the history to read at start</source>
        <translation>%1–%2
Sin leer: demasiados envíos en el historial para leerlos al iniciar</translation>
    </message>
    <message>
        <source>This minute, %1–%2
Pushes so far: %3</source>
        <translation>Este minuto, %1–%2
Envíos hasta ahora: %3</translation>
    </message>
    <message>
        <source>%1–%2
Pushes: %3</source>
        <translation>%1–%2
Envíos: %3</translation>
    </message>
    <message>
        <source>Pushes per minute</source>
        <translation>Envíos por minuto</translation>
    </message>
    <message>
        <source>No pushes in the last hour</source>
        <translation>Sin envíos en la última hora</translation>
    </message>
    <message>
        <source>−%1 min</source>
        <translation>−%1 min</translation>
    </message>
    <message>
        <source>now</source>
        <translation>ahora</translation>
    </message>
</context>
<context>
    <name>agmem::SettingsDialog</name>
    <message>
        <source>Restore &amp;defaults</source>
        <translation>Restaurar valores pre&amp;determinados</translation>
    </message>
    <message>
        <source>TLS certificate</source>
        <translation>Certificado TLS</translation>
    </message>
    <message>
        <source>TLS private key</source>
        <translation>Clave privada TLS</translation>
    </message>
    <message>
        <source>Settings</source>
        <translation>Configuración</translation>
    </message>
    <message>
        <source>The settings could not be saved to %1.</source>
        <translation>No se pudo guardar la configuración en %1.</translation>
    </message>
    <message>
        <source>Enter an address: 127.0.0.1 for this computer only, 0.0.0.0 for every network interface.</source>
        <translation>Introduzca una dirección: 127.0.0.1 solo para este equipo, 0.0.0.0 para todas las interfaces de red.</translation>
    </message>
    <message>
        <source>&quot;%1&quot; is not an IP address (use 127.0.0.1 for this computer only, 0.0.0.0 for every network interface).</source>
        <translation>«%1» no es una dirección IP (127.0.0.1 solo para este equipo, 0.0.0.0 para todas las interfaces de red).</translation>
    </message>
    <message>
        <source>Only this computer can connect.</source>
        <translation>Solo este equipo puede conectarse.</translation>
    </message>
    <message>
        <source>Every network interface: other machines can reach the coordinator. Create an API key for them.</source>
        <translation>Todas las interfaces de red: otras máquinas pueden alcanzar el coordinador. Cree una clave de API para ellas.</translation>
    </message>
    <message>
        <source>Only connections to %1 are accepted.</source>
        <translation>Solo se aceptan conexiones a %1.</translation>
    </message>
    <message>
        <source>Not a database location: %1</source>
        <translation>Ubicación de base de datos no válida: %1</translation>
    </message>
    <message>
        <source>Default: the SQLite file %1</source>
        <translation>Predeterminado: el archivo SQLite %1</translation>
    </message>
    <message>
        <source>SQLite file %1</source>
        <translation>Archivo SQLite %1</translation>
    </message>
    <message>
        <source>In memory: everything is lost when the app quits.</source>
        <translation>En memoria: todo se pierde al cerrar la aplicación.</translation>
    </message>
    <message>
        <source>PostgreSQL database &quot;%1&quot; on %2, port %3.</source>
        <translation>Base de datos PostgreSQL «%1» en %2, puerto %3.</translation>
    </message>
    <message>
        <source>The password is saved as plain text in the settings file (~/.pgpass keeps it out).</source>
        <translation>La contraseña se guarda como texto sin cifrar en el archivo de configuración (con ~/.pgpass no se guarda ahí).</translation>
    </message>
    <message>
        <source>No TLS: the server speaks plain HTTP.</source>
        <translation>Sin TLS: el servidor usa HTTP sin cifrar.</translation>
    </message>
    <message>
        <source>Choose both a certificate and its private key, or neither.</source>
        <translation>Elija un certificado y su clave privada, o ninguno de los dos.</translation>
    </message>
    <message>
        <source>The file %1 does not exist.</source>
        <translation>El archivo %1 no existe.</translation>
    </message>
    <message>
        <source>TLS is not available on this system (%1).</source>
        <translation>TLS no está disponible en este sistema (%1).</translation>
    </message>
    <message>
        <source>Cannot read %1: %2</source>
        <translation>No se puede leer %1: %2</translation>
    </message>
    <message>
        <source>%1 holds no PEM certificate.</source>
        <translation>%1 no contiene ningún certificado PEM.</translation>
    </message>
    <message>
        <source>%1 holds no unencrypted PEM private key.</source>
        <translation>%1 no contiene ninguna clave privada PEM sin cifrar.</translation>
    </message>
    <message>
        <source>%1 does not belong to the certificate %2 (%3).</source>
        <translation>%1 no pertenece al certificado %2 (%3).</translation>
    </message>
    <message>
        <source>HTTPS with the certificate for %1, valid until %2.</source>
        <translation>HTTPS con el certificado de %1, válido hasta el %2.</translation>
    </message>
    <message>
        <source>It has expired: clients will refuse it.</source>
        <translation>Ha caducado: los clientes lo rechazarán.</translation>
    </message>
    <message>
        <source>%1 (%2)</source>
        <translation>%1 (%2)</translation>
    </message>
    <message>
        <source>For this run, %1 sets this; the value saved here is used at a launch without it.</source>
        <translation>En esta ejecución, %1 fija este valor; el valor guardado aquí se usa al iniciar sin él.</translation>
    </message>
    <message>
        <source>Set by the command line or the environment for this run, so the saved value is not used now: %1. What you save here applies at a launch without them.</source>
        <translation>Fijados por la línea de comandos o el entorno en esta ejecución, por lo que ahora no se usan los valores guardados: %1. Lo que guarde aquí se aplica al iniciar sin ellos.</translation>
    </message>
    <message>
        <source>Database file</source>
        <translation>Archivo de base de datos</translation>
    </message>
    <message>
        <source>SQLite databases (*.db *.sqlite *.sqlite3);;All files (*)</source>
        <translation>Bases de datos SQLite (*.db *.sqlite *.sqlite3);;Todos los archivos (*)</translation>
    </message>
    <message>
        <source>PEM files (*.pem *.crt *.cer *.key);;All files (*)</source>
        <translation>Archivos PEM (*.pem *.crt *.cer *.key);;Todos los archivos (*)</translation>
    </message>
</context>
<context>
    <name>agmem::TopicsModel</name>
    <message>
        <source>Topic</source>
        <translation>Tema</translation>
    </message>
    <message>
        <source>Merged count</source>
        <translation>Total combinado</translation>
    </message>
    <message>
        <source>Agents</source>
        <translation>Agentes</translation>
    </message>
</context>
</TS>
