Feature: Logout with a reason code
  The agent signs out from the app with one of the LOGOUT reason codes. Finesse's rules
  apply: on UCCE only from NOT_READY, and never during a call.

  Background:
    Given these agents are logged in through the app:
      | agent | mode         | dial number  |
      | 1001  | CALL_BY_CALL | +15551230001 |

  Scenario: The app lists the LOGOUT reason codes
    Then agent 1001's app and Finesse list the LOGOUT reason codes End of shift

  Scenario: The agent logs out at the end of the shift
    Then the connector holds 1 session
    When agent 1001 logs out with reason "End of shift"
    Then agent 1001 is LOGOUT with reason "End of shift" in Finesse
    And agent 1001's app is signed out
    And the connector holds 0 sessions

  Scenario: No logout while READY
    Given agent 1001 is READY
    When agent 1001 tries to log out with reason "End of shift"
    Then it is refused with 400 Invalid State
    And agent 1001 is READY in the app and in Finesse

  Scenario: No logout during a call
    Given agent 1001 is talking to a customer
    When agent 1001 goes NOT_READY with reason "Break"
    And agent 1001 tries to log out with reason "End of shift"
    Then it is refused with 400 Invalid State
    And agent 1001 is talking to the customer in the app and in Finesse

  Scenario: After a logout the agent can log in again
    When agent 1001 logs out with reason "End of shift"
    Then agent 1001 is LOGOUT in Finesse
    When agent 1001 logs in through the app again
    Then agent 1001 is NOT_READY in the app and in Finesse
    And agent 1001 is signed in as CALL_BY_CALL in the app and in Finesse
