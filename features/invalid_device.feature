Feature: An extension that is not a device
  Finesse accepts the LOGIN request, then refuses it with an asynchronous CTI error when
  the extension is not a configured device (Invalid Device) or is held by another agent
  (Device Busy); the app gets that error type with a 400, and nothing is left signed in.

  Scenario Outline: A login on an extension that is not a device is refused
    When agent 1001 tries to log in through the app with:
      | mode   | extension   | dial number   |
      | <mode> | <extension> | <dial number> |
    Then it is refused with 400 Invalid Device
    And agent 1001 is LOGOUT in Finesse
    And the connector holds 0 sessions

    Examples:
      | mode         | extension | dial number  |
      | desk         | 7777      |              |
      | desk         | 5099      |              |
      | CALL_BY_CALL | 7777      | +15551230001 |

  Scenario: After an Invalid Device, the right extension signs the agent in
    When agent 1001 tries to log in through the app with:
      | mode | extension |
      | desk | 7777      |
    Then it is refused with 400 Invalid Device
    When agent 1001 tries to log in through the app with:
      | mode | extension |
      | desk | 5001      |
    Then it is accepted
    And agent 1001 is NOT_READY in the app and in Finesse
    And agent 1001 is signed in as desk in the app and in Finesse

  Scenario: An extension held by another agent is Device Busy
    Given these agents are logged in through the app:
      | agent | mode | extension |
      | 1001  | desk | 5001      |
    When agent 1002 tries to log in through the app with:
      | mode | extension |
      | desk | 5001      |
    Then it is refused with 400 Device Busy
    And agent 1002 is LOGOUT in Finesse
    And the connector holds 1 session
    And agent 1001 is NOT_READY in the app and in Finesse
