Feature: Queue and route
  A customer who calls the Sales queue (DN 8000) waits until an agent is READY; among
  several READY agents the call goes to the one who has been READY the longest.

  Background:
    Given these agents are logged in through the app:
      | agent | mode         | dial number  |
      | 1001  | CALL_BY_CALL | +15551230001 |
      | 1002  | CALL_BY_CALL | +15551230002 |
      | 1003  | CALL_BY_CALL | +15551230003 |

  @browser
  Scenario: A call waits in the queue until an agent goes READY
    When a customer calls 8000
    Then queue 8000 holds 1 waiting call
    And agent 1001 has no call in the app and in Finesse
    When agent 1001 goes READY
    Then within 2 seconds agent 1001's app shows an incoming call
    And agent 1001's phone rings
    And agent 1001 is RESERVED in the app and in Finesse
    And queue 8000 holds 0 waiting calls

  Scenario: The agent READY the longest gets the call
    Given these agents are READY, in this order:
      | agent |
      | 1002  |
      | 1003  |
      | 1001  |
    Then the longest available agents of queue 8000 are 1002, 1003, 1001
    When a customer calls 8000
    Then within 2 seconds agent 1002's app shows an incoming call
    And agent 1002 is RESERVED in the app and in Finesse
    And agent 1003 is READY in the app and in Finesse
    And the longest available agents of queue 8000 are 1003, 1001

  Scenario: Calls in a row go to each READY agent in turn
    Given these agents are READY, in this order:
      | agent |
      | 1003  |
      | 1001  |
      | 1002  |
    When a customer calls 8000
    And a customer calls 8000
    Then agent 1003's app shows an incoming call from the first customer
    And agent 1001's app shows an incoming call from the second customer
    And agent 1002 is READY in the app and in Finesse
    And queue 8000 holds 0 waiting calls

  Scenario: Waiting calls are served in the order they came
    When a customer calls 8000
    And a customer calls 8000
    Then queue 8000 holds 2 waiting calls
    When agent 1002 goes READY
    Then agent 1002's app shows an incoming call from the first customer
    And agent 1002 is RESERVED in the app and in Finesse
    And queue 8000 holds 1 waiting call
    When agent 1003 goes READY
    Then agent 1003's app shows an incoming call from the second customer
    And queue 8000 holds 0 waiting calls
