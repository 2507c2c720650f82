# Debian's mosquitto on the same debian:12 base, for the compose demo:
# anonymous, on 127.0.0.1:$MQTT_PORT (host networking), no persistence.
FROM debian:12
RUN apt-get update \
    && apt-get install -y --no-install-recommends mosquitto \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log
USER mosquitto
ENV MQTT_PORT=1883
HEALTHCHECK --interval=2s --timeout=2s --retries=30 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/$MQTT_PORT"]
CMD ["sh", "-c", "printf 'listener %s 127.0.0.1\\nallow_anonymous true\\npersistence false\\nmax_queued_messages 100000\\n' \"$MQTT_PORT\" > /tmp/mosquitto.conf && exec mosquitto -c /tmp/mosquitto.conf"]
